//! Gateway settings: `councilgate.toml` in the config folder, overridden by
//! `COUNCILGATE__SECTION__KEY` environment variables.
//!
//! Every section refuses unknown keys, so a typo is an error that names the
//! file, the key and what was expected rather than a silently ignored line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

/// A password or token from the settings: usable, never printed (its
/// `Debug` is redacted, so no log line or error can carry it).
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "<redacted>"
        })
    }
}

/// The settings file every config folder may hold.
pub const SETTINGS_FILE: &str = "councilgate.toml";

/// The shipped defaults, compiled in so a folder without a settings file works.
pub const DEFAULT_SETTINGS: &str = include_str!("../config/councilgate.toml");

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{file}: {detail}")]
    Invalid { file: String, detail: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub smtp: SmtpSettings,
    pub queue: QueueSettings,
    pub store: StoreSettings,
    pub web: WebSettings,
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub tls: TlsSettings,
    #[serde(default)]
    pub sender_auth: SenderAuthSettings,
    #[serde(default)]
    pub dkim: DkimSettings,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub policy: PolicySettings,
    #[serde(default)]
    pub hairpin: HairpinSettings,
}

/// Internal mail of a hosted tenant (Microsoft 365, Google Workspace)
/// through the gateway: the tenant sends mail between council addresses to
/// the gateway unless it carries the gateway's mark, and the gateway marks
/// what it returns (routes with `mark = true`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HairpinSettings {
    /// The value of `X-Councilgate-Mark` on mail returned to the tenant: a
    /// long random secret (a sender who adds the header by hand must not
    /// guess it). Empty: no mark is added and none is honoured.
    #[serde(default)]
    pub mark_secret: Secret,
}

/// How the policy reads mail.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// `on`: the content detectors also read meaning with the bundled
    /// sentence encoder (`serve` refuses to start if it cannot load);
    /// `off`: word lists and clause analysis only.
    #[serde(default)]
    pub semantic: crate::policy::semantic::Mode,
}

impl Settings {
    /// How snapshots are built under these settings: the semantic reading
    /// as set, an admin's example embeddings cached in the data folder.
    pub fn policy_options(&self) -> crate::policy::semantic::Options {
        crate::policy::semantic::Options {
            mode: self.policy.semantic,
            cache_dir: Some(self.server.data_dir.clone()),
        }
    }
}

/// The certificate the SMTP listeners offer (STARTTLS and implicit TLS).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain. Empty: a self-signed certificate for the host
    /// name, made on first start and kept in `<data_dir>/tls/`. Reloaded
    /// when the file changes (renewals).
    #[serde(default)]
    pub cert: String,
    /// PEM private key of `cert`.
    #[serde(default)]
    pub key: String,
}

/// Checking who really sent inbound mail: SPF, DKIM, DMARC (and ARC).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderAuthSettings {
    /// Verify SPF, DKIM and DMARC on the inbound listener and add
    /// `Authentication-Results`. Off, every claim to be a directory person
    /// from outside stays unverified.
    #[serde(default = "yes")]
    pub verify: bool,
    /// A file of DNS answers used instead of the resolver (tests, or a
    /// gateway with no DNS); names not in it do not exist.
    #[serde(default)]
    pub dns_zone: String,
    /// The longest the checks of one message may take; past it the
    /// message is accepted unverified (`temperror`).
    #[serde(default = "default_dns_timeout")]
    pub dns_timeout_secs: u64,
}

impl Default for SenderAuthSettings {
    fn default() -> Self {
        SenderAuthSettings {
            verify: true,
            dns_zone: String::new(),
            dns_timeout_secs: default_dns_timeout(),
        }
    }
}

fn default_dns_timeout() -> u64 {
    10
}

fn yes() -> bool {
    true
}

/// DKIM signing of mail from the council's domains, and ARC sealing of
/// inbound mail the gateway changed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// One signing key per domain.
    #[serde(default)]
    pub keys: Vec<DkimKey>,
    /// The domain whose key seals ARC sets; empty: the first key's.
    #[serde(default)]
    pub arc_domain: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimKey {
    /// Mail whose From is at this domain is signed with this key.
    pub domain: String,
    /// The selector: the key's public half is published at
    /// `SELECTOR._domainkey.DOMAIN`.
    pub selector: String,
    /// PEM RSA private key (PKCS#1 or PKCS#8).
    pub key: String,
}

/// Someone who may send as addresses that are not their own, e.g. the
/// clerk as the council's shared address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegate {
    /// The SMTP login (an address).
    pub user: String,
    /// Addresses (or `@domain` for a whole domain) they may send as.
    pub send_as: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// Empty: an SQLite file in the data folder. `postgres://…` lets
    /// several gateways share held messages and the audit log.
    #[serde(default)]
    pub url: String,
    /// A held message not decided within this many days is returned to
    /// its sender.
    pub hold_days: u64,
    /// Reviewers are reminded this many hours before expiry.
    pub remind_hours: u64,
    /// The raw message of decided messages is removed after this many days
    /// (their record and audit history stay).
    pub retention_days: u64,
    /// Days the analysis archive (new text, envelope and verdict of mail
    /// the content rules could apply to) is kept for what-if; 0: none.
    #[serde(default = "default_archive_days")]
    pub archive_days: u64,
    /// Who reviews held messages (addresses). Empty: the Proper Officer and
    /// the deputies from the directory.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Who reviews when the Proper Officer is a party to the message.
    /// Empty: the deputies.
    #[serde(default)]
    pub panel: Vec<String>,
    /// When each reviewer gets the day's summary of what waits for them
    /// ("08:00", UK time); empty: no summary.
    #[serde(default)]
    pub digest_time: String,
}

impl StoreSettings {
    /// The digest's time of day as (hour, minute), if one is set.
    pub fn digest_at(&self) -> Option<(u32, u32)> {
        let (h, m) = self.digest_time.trim().split_once(':')?;
        let (h, m) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some((h, m))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// `/metrics`, `/healthz` and `/readyz`, apart from the review pages so
    /// that no message data is reachable without logging in; empty
    /// disables them.
    pub listen: String,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    #[serde(default)]
    pub token: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSettings {
    /// The review pages; empty disables them.
    pub listen: String,
    /// How reviewers reach the pages (links in notices).
    pub base_url: String,
    pub session_hours: u64,
    /// Mark the session cookie Secure (set when the pages are served
    /// behind TLS).
    pub secure_cookies: bool,
    /// Who must sign in with a second factor (an authenticator app's code
    /// after the password): `admins` (the default) or `everyone`.
    /// Administrators always must.
    #[serde(default)]
    pub second_factor: SecondFactorPolicy,
    /// Sign-in with the council's Microsoft 365 or Google account (OpenID
    /// Connect): the provider's issuer URL; empty: passwords only.
    #[serde(default)]
    pub oidc_issuer: String,
    /// The application (client) registered with the provider.
    #[serde(default)]
    pub oidc_client_id: String,
    #[serde(default)]
    pub oidc_client_secret: Secret,
    /// The name on the sign-in button ("Microsoft 365", "Google").
    #[serde(default)]
    pub oidc_name: String,
}

/// Who must give a second factor to sign in to the review pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecondFactorPolicy {
    /// Administrators; reviewers may enrol if they wish.
    #[default]
    Admins,
    /// Every user of the review pages.
    Everyone,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Name used in the greeting, `Received:` headers and EHLO to upstreams.
    /// Empty means the machine's host name.
    #[serde(default)]
    pub hostname: String,
    /// Folder for the spool, held messages and the outbox. A relative path
    /// is taken from the config folder (never the working directory), so
    /// the gateway and every command given the same `--config` share one
    /// store and queue.
    pub data_dir: PathBuf,
    /// Address that sends delivery reports and notices. Empty means
    /// `postmaster@` the council's first domain.
    #[serde(default)]
    pub postmaster: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `councilgate=debug`.
    pub log_level: String,
    /// How long sessions may take to finish after a shutdown signal.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub inbound: ListenerSettings,
    pub submission: ListenerSettings,
    /// Largest message accepted, in bytes (advertised with SIZE; 552 beyond).
    pub max_message_size: usize,
    /// Largest header section (everything before the first empty line), in
    /// bytes (552 beyond): no real mail needs more, and header parsers are
    /// where crafted mail does its damage.
    #[serde(default = "default_max_header_size")]
    pub max_header_size: usize,
    /// Recipients per message (452 beyond).
    pub max_recipients: usize,
    /// Longest command line, in bytes including CRLF (500 beyond).
    pub max_line_length: usize,
    /// Waiting for a command (RFC 5321 §4.5.3.2: 5 minutes).
    pub command_timeout_secs: u64,
    /// Waiting for the next block of message data (RFC 5321 §4.5.3.2: 3 minutes).
    pub data_timeout_secs: u64,
    /// Sessions open at once over both listeners (421 beyond).
    pub max_sessions: usize,
    /// Sessions open at once from one client address (421 beyond); clients
    /// in the listener's trusted networks are exempt.
    #[serde(default = "default_max_sessions_per_ip")]
    pub max_sessions_per_ip: usize,
    /// Failed commands in one session before it is closed (421).
    pub max_errors: usize,
    /// New connections per minute from one client address (421 beyond);
    /// trusted networks are exempt.
    #[serde(default = "default_connection_rate")]
    pub max_connection_rate_per_ip: usize,
    /// Past this share of `max_sessions` in use, timeouts shrink to
    /// `stress_timeout_secs`.
    #[serde(default = "default_stress_threshold")]
    pub stress_threshold_percent: u8,
    /// Command and data timeout while sessions run short.
    #[serde(default = "default_stress_timeout")]
    pub stress_timeout_secs: u64,
    /// Implicit-TLS submission (port 465); empty disables it.
    #[serde(default)]
    pub submissions: ListenerSettings,
    /// Offer AUTH without TLS to clients on the loopback interface.
    /// Development only: a password sent in clear can be read on the wire.
    #[serde(default)]
    pub allow_plain_auth_on_loopback: bool,
    /// Logins that may send as other addresses.
    #[serde(default)]
    pub delegates: Vec<Delegate>,
    /// With `unknown_recipients = "verify"` in the directory: how long the
    /// council's mail host's "this mailbox exists" is remembered.
    #[serde(default = "default_verify_known")]
    pub verify_known_secs: u64,
    /// … and how long its "no such mailbox".
    #[serde(default = "default_verify_unknown")]
    pub verify_unknown_secs: u64,
}

fn default_archive_days() -> u64 {
    90
}

fn default_verify_known() -> u64 {
    7 * 86_400
}

fn default_verify_unknown() -> u64 {
    3 * 3600
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSettings {
    /// Address to listen on; empty disables the listener.
    pub listen: String,
    /// Networks whose clients may relay through this listener to any domain.
    #[serde(default)]
    pub trusted_networks: Vec<IpNet>,
}

impl ListenerSettings {
    /// The parsed listen address, or `None` when the listener is disabled.
    pub fn address(&self) -> Result<Option<SocketAddr>, String> {
        if self.listen.trim().is_empty() {
            return Ok(None);
        }
        self.listen
            .parse()
            .map(Some)
            .map_err(|e| format!("listen = {:?} is not an address:port ({e})", self.listen))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// First retry after a temporary failure.
    pub retry_initial_secs: u64,
    /// Retries back off exponentially up to this interval.
    pub retry_max_secs: u64,
    /// A message still undelivered after this long is bounced.
    pub give_up_secs: u64,
    /// Deliveries in flight at once.
    pub workers: usize,
    /// Timeout for each step of a delivery to the next hop.
    pub connect_timeout_secs: u64,
}

/// Where mail for some domains goes next.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Domain patterns: `example.org`, `*.example.org`, or `*` for the default route.
    pub domains: Vec<String>,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Accept an upstream certificate that does not verify (test upstreams only).
    #[serde(default)]
    pub tls_insecure: bool,
    /// The council's own tenant: mail sent this way carries the gateway's
    /// mark (`hairpin.mark_secret`), so the tenant delivers it instead of
    /// sending it back.
    #[serde(default)]
    pub mark: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    Starttls,
    Tls,
}

impl Route {
    /// Whether this route serves `domain` (already lower case).
    pub fn matches(&self, domain: &str) -> bool {
        self.domains.iter().any(|p| domain_matches(p, domain))
    }
}

pub use crate::policy::directory::domain_matches;

impl Settings {
    /// Loads `DIR/councilgate.toml` (or the shipped defaults when absent), then
    /// applies `COUNCILGATE__SECTION__KEY` environment overrides.
    ///
    /// Relative paths in it (`server.data_dir`, `tls.cert`, `tls.key`,
    /// `sender_auth.dns_zone`, `dkim.keys[].key`) are resolved against the
    /// config folder, never the working directory: a command run from an
    /// operator's home folder opens the store the gateway uses.
    pub fn load(dir: &Path) -> Result<Self, SettingsError> {
        let path = dir.join(SETTINGS_FILE);
        let file_name = path.display().to_string();
        let mut settings = if path.exists() {
            Self::from_sources(
                &file_name,
                config::File::from(path.clone()).format(config::FileFormat::Toml),
            )?
        } else {
            // Same defaults as the shipped file.
            Self::from_sources(
                "built-in defaults",
                config::File::from_str(DEFAULT_SETTINGS, config::FileFormat::Toml),
            )?
        };
        settings.resolve_paths(dir);
        Ok(settings)
    }

    /// Makes the relative paths of the settings absolute, from `dir`.
    fn resolve_paths(&mut self, dir: &Path) {
        let base = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let resolve = |p: &Path| -> PathBuf {
            if p.as_os_str().is_empty() || p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let text = |s: &mut String| {
            let t = s.trim();
            if !t.is_empty() {
                *s = resolve(Path::new(t)).display().to_string();
            }
        };
        self.server.data_dir = resolve(&self.server.data_dir);
        text(&mut self.tls.cert);
        text(&mut self.tls.key);
        text(&mut self.sender_auth.dns_zone);
        for k in &mut self.dkim.keys {
            text(&mut k.key);
        }
    }

    /// The shipped defaults alone, with no file and no environment: for
    /// tools and tests that set their values in code.
    pub fn shipped() -> Result<Self, SettingsError> {
        let settings: Settings =
            toml::from_str(DEFAULT_SETTINGS).map_err(|e| SettingsError::Invalid {
                file: "built-in defaults".into(),
                detail: e.to_string(),
            })?;
        Ok(settings)
    }

    fn from_sources<S>(name: &str, base: S) -> Result<Self, SettingsError>
    where
        S: config::Source + Send + Sync + 'static,
    {
        // An error about a key an environment variable set names that
        // variable, not the file.
        let invalid = |detail: String| SettingsError::Invalid {
            file: env_source(&detail).unwrap_or_else(|| name.to_string()),
            detail,
        };
        let built = config::Config::builder()
            .add_source(base)
            .add_source(
                config::Environment::with_prefix("COUNCILGATE")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("smtp.inbound.trusted_networks")
                    .with_list_parse_key("smtp.submission.trusted_networks")
                    .with_list_parse_key("smtp.submissions.trusted_networks"),
            )
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        let settings: Settings = built
            .try_deserialize()
            .map_err(|e| invalid(explain_config_error(e)))?;
        settings.validate().map_err(invalid)?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        self.smtp
            .inbound
            .address()
            .map_err(|e| format!("smtp.inbound.{e}"))?;
        self.smtp
            .submission
            .address()
            .map_err(|e| format!("smtp.submission.{e}"))?;
        self.smtp
            .submissions
            .address()
            .map_err(|e| format!("smtp.submissions.{e}"))?;
        if self.tls.cert.trim().is_empty() != self.tls.key.trim().is_empty() {
            return Err("tls: expected both cert and key, or neither".into());
        }
        for (i, k) in self.dkim.keys.iter().enumerate() {
            for (name, v) in [
                ("domain", &k.domain),
                ("selector", &k.selector),
                ("key", &k.key),
            ] {
                if v.trim().is_empty() {
                    return Err(format!("dkim.keys[{i}].{name}: expected a value"));
                }
            }
        }
        if self.sender_auth.dns_timeout_secs == 0 {
            return Err("sender_auth.dns_timeout_secs: expected a number greater than 0".into());
        }
        let positive = [
            ("smtp.max_message_size", self.smtp.max_message_size as u64),
            ("smtp.max_header_size", self.smtp.max_header_size as u64),
            ("smtp.max_recipients", self.smtp.max_recipients as u64),
            ("smtp.max_line_length", self.smtp.max_line_length as u64),
            ("smtp.max_sessions", self.smtp.max_sessions as u64),
            (
                "smtp.max_sessions_per_ip",
                self.smtp.max_sessions_per_ip as u64,
            ),
            ("smtp.max_errors", self.smtp.max_errors as u64),
            ("smtp.command_timeout_secs", self.smtp.command_timeout_secs),
            ("smtp.data_timeout_secs", self.smtp.data_timeout_secs),
            ("queue.retry_initial_secs", self.queue.retry_initial_secs),
            ("queue.retry_max_secs", self.queue.retry_max_secs),
            ("queue.workers", self.queue.workers as u64),
            (
                "queue.connect_timeout_secs",
                self.queue.connect_timeout_secs,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(format!("{key}: expected a number greater than 0"));
            }
        }
        if self.smtp.max_line_length < 512 {
            return Err("smtp.max_line_length: expected at least 512 (RFC 5321 §4.5.3.1.4)".into());
        }
        if !self.store.digest_time.trim().is_empty() && self.store.digest_at().is_none() {
            return Err(format!(
                "store.digest_time: expected a time of day such as \"08:00\", got {:?}",
                self.store.digest_time
            ));
        }
        if self.store.hold_days == 0 {
            return Err("store.hold_days: expected a number greater than 0".into());
        }
        if !self.web.listen.trim().is_empty() {
            self.web.listen.parse::<SocketAddr>().map_err(|e| {
                format!(
                    "web.listen = {:?} is not an address:port ({e})",
                    self.web.listen
                )
            })?;
        }
        if self.queue.retry_max_secs < self.queue.retry_initial_secs {
            return Err("queue.retry_max_secs: expected at least queue.retry_initial_secs".into());
        }
        for (i, route) in self.routes.iter().enumerate() {
            if route.domains.is_empty() {
                return Err(format!(
                    "routes[{i}].domains: expected at least one domain pattern"
                ));
            }
            if route.host.trim().is_empty() {
                return Err(format!("routes[{i}].host: expected a host name"));
            }
            if route.username.is_some() != route.password.is_some() {
                return Err(format!(
                    "routes[{i}]: expected both username and password, or neither"
                ));
            }
            if route.mark && self.hairpin.mark_secret.expose().trim().is_empty() {
                return Err(format!(
                    "routes[{i}].mark: the mark needs a secret value in hairpin.mark_secret (e.g. openssl rand -hex 24)"
                ));
            }
            // The mark carries the secret: only to the council's own tenant,
            // never on a route that also takes mail to the rest of the world.
            if route.mark && route.domains.iter().any(|d| d.trim().starts_with('*')) {
                return Err(format!(
                    "routes[{i}].mark: a marked route carries the hairpin secret, so it must name the council's own domains only, not {:?}",
                    route.domains
                ));
            }
        }
        let secret = self.hairpin.mark_secret.expose().trim();
        if !secret.is_empty()
            && (secret.len() < 16 || !secret.chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(
                "hairpin.mark_secret: expected at least 16 printable characters without spaces (e.g. openssl rand -hex 24)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The name this gateway uses for itself.
    pub fn hostname(&self) -> String {
        if self.server.hostname.trim().is_empty() {
            gethostname::gethostname()
                .into_string()
                .unwrap_or_else(|_| "localhost".into())
        } else {
            self.server.hostname.trim().to_string()
        }
    }

    /// The route for a recipient domain, or `None` for the local outbox.
    pub fn route_for(&self, domain: &str) -> Option<&Route> {
        // Specific patterns win over the `*` default whatever their order.
        self.routes
            .iter()
            .find(|r| {
                r.domains
                    .iter()
                    .any(|p| p.trim() != "*" && domain_matches(p, domain))
            })
            .or_else(|| self.routes.iter().find(|r| r.matches(domain)))
    }
}

/// The config crate says "unknown field `x`, expected one of …"; add the
/// section so the reader knows where to look.
/// The `COUNCILGATE__SECTION__KEY` variable, set now, whose key the error
/// `detail` names (`smtp.max_recipients` for `COUNCILGATE__SMTP__MAX_RECIPIENTS`).
fn env_source(detail: &str) -> Option<String> {
    std::env::vars()
        .filter_map(|(var, _)| {
            let key = var
                .strip_prefix("COUNCILGATE__")?
                .to_lowercase()
                .replace("__", ".");
            (!key.is_empty() && detail.contains(&key)).then_some((key.len(), var))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, var)| format!("environment variable {var}"))
}

fn explain_config_error(e: config::ConfigError) -> String {
    let text = e.to_string();
    if text.contains("unknown field") {
        format!("{text} (unknown keys are refused: check the spelling)")
    } else {
        text
    }
}

/// Exchange Online's header size limit.
fn default_max_header_size() -> usize {
    256 * 1024
}

/// Two a second, sustained for a minute: more than any real MTA needs
/// from one address, far less than a flood.
fn default_stress_threshold() -> u8 {
    80
}

fn default_stress_timeout() -> u64 {
    10
}

fn default_connection_rate() -> usize {
    120
}

/// Postfix's `smtpd_client_connection_count_limit` default.
fn default_max_sessions_per_ip() -> usize {
    50
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_load() {
        let s = Settings::from_sources(
            "defaults",
            config::File::from_str(DEFAULT_SETTINGS, config::FileFormat::Toml),
        )
        .expect("shipped defaults are valid");
        assert_eq!(s.smtp.command_timeout_secs, 300);
        assert_eq!(s.smtp.data_timeout_secs, 180);
        assert!(s.routes.is_empty(), "no upstream by default: the outbox");
    }

    #[test]
    fn unknown_key_is_refused_with_its_name() {
        let text = DEFAULT_SETTINGS.replace("max_recipients", "max_recipeints");
        let err = Settings::from_sources(
            "test.toml",
            config::File::from_str(&text, config::FileFormat::Toml),
        )
        .expect_err("typo refused")
        .to_string();
        assert!(err.contains("test.toml"), "{err}");
        assert!(err.contains("max_recipeints"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let text = format!(
            "{}\n[[routes]]\ndomains = [\"*\"]\nhost = \"relay.example\"\nport = 587\ntls = \"starttls\"\nusername = \"u\"\npassword = \"hunter2-relay\"\n",
            DEFAULT_SETTINGS.replace("token = \"\"", "token = \"metrics-token-9\"")
        );
        let s = Settings::from_sources(
            "test.toml",
            config::File::from_str(&text, config::FileFormat::Toml),
        )
        .expect("loads");
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2-relay"), "{printed}");
        assert!(!printed.contains("metrics-token-9"), "{printed}");
        assert_eq!(
            s.routes[0].password.as_ref().map(Secret::expose),
            Some("hunter2-relay")
        );
    }

    #[test]
    fn the_hairpin_secret_goes_only_to_the_council_s_tenant() {
        let load = |secret: &str, domains: &str| {
            let text = format!(
                "{}\n[[routes]]\ndomains = {domains}\nhost = \"tenant.example\"\nport = 25\ntls = \"starttls\"\nmark = true\n",
                DEFAULT_SETTINGS
                    .replace("mark_secret = \"\"", &format!("mark_secret = \"{secret}\""))
            );
            Settings::from_sources(
                "test.toml",
                config::File::from_str(&text, config::FileFormat::Toml),
            )
            .map_err(|e| e.to_string())
        };
        let long = "0123456789abcdef0123456789";
        let s = load(long, "[\"example-tc.gov.uk\"]").expect("a marked route to the tenant");
        assert!(s.routes[0].mark);
        assert!(
            !format!("{s:?}").contains(long),
            "the secret is never printed"
        );
        let e = load("", "[\"example-tc.gov.uk\"]").expect_err("no secret");
        assert!(
            e.contains("routes[0].mark") && e.contains("hairpin.mark_secret"),
            "{e}"
        );
        let e = load("short", "[\"example-tc.gov.uk\"]").expect_err("short secret");
        assert!(e.contains("hairpin.mark_secret"), "{e}");
        let e = load(long, "[\"*\"]").expect_err("a marked default route");
        assert!(
            e.contains("routes[0].mark") && e.contains("council's own domains"),
            "{e}"
        );
    }

    #[test]
    fn domain_patterns() {
        assert!(domain_matches("*", "a.org"));
        assert!(domain_matches("*.a.org", "x.a.org"));
        assert!(!domain_matches("*.a.org", "a.org"));
        assert!(!domain_matches("*.a.org", "xa.org"));
        assert!(domain_matches("A.org", "a.org"));
    }
}
