//! DKIM signatures for mail from the council's domains as it leaves, and
//! the ARC sealer that the pipeline uses for inbound mail it changed (the
//! same keys sign both).

use std::path::Path;

use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::Done;
use tracing::warn;

use crate::settings::DkimSettings;

/// A key that cannot be loaded, or a setting that names no key.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {detail}")]
pub struct SignError {
    pub file: String,
    pub detail: String,
}

fn file_err(file: &Path, detail: impl ToString) -> SignError {
    SignError {
        file: file.display().to_string(),
        detail: detail.to_string(),
    }
}

type DkimSigner = mail_auth::dkim::DkimSigner<RsaKey<Sha256>, Done>;
pub type ArcSealer = mail_auth::arc::ArcSealer<RsaKey<Sha256>, Done>;

/// The headers a gateway signature covers (those present are signed).
const SIGNED: [&str; 14] = [
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "X-Council-Protocol",
];

/// DKIM keys per domain, and the ARC sealer.
#[derive(Default)]
pub struct Signer {
    keys: Vec<(String, DkimSigner)>,
    arc: Option<ArcSealer>,
}

fn load_key(path: &Path) -> Result<RsaKey<Sha256>, SignError> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let der = PrivateKeyDer::from_pem_file(path).map_err(|e| file_err(path, e))?;
    RsaKey::<Sha256>::from_key_der(der)
        .map_err(|e| file_err(path, format!("not an RSA private key: {e}")))
}

impl Signer {
    /// Loads every configured key (relative paths from the config folder).
    pub fn load(settings: &DkimSettings, config_dir: &Path) -> Result<Signer, SignError> {
        let mut signer = Signer::default();
        let arc_domain = if settings.arc_domain.trim().is_empty() {
            settings.keys.first().map(|k| k.domain.trim().to_string())
        } else {
            Some(settings.arc_domain.trim().to_string())
        };
        for k in &settings.keys {
            let path = config_dir.join(k.key.trim());
            let domain = k.domain.trim().to_ascii_lowercase();
            let dkim = mail_auth::dkim::DkimSigner::from_key(load_key(&path)?)
                .domain(domain.clone())
                .selector(k.selector.trim())
                .headers(SIGNED);
            if arc_domain
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(&domain))
                && signer.arc.is_none()
            {
                signer.arc = Some(
                    mail_auth::arc::ArcSealer::from_key(load_key(&path)?)
                        .domain(domain.clone())
                        .selector(k.selector.trim())
                        .headers(SIGNED),
                );
            }
            signer.keys.push((domain, dkim));
        }
        if let Some(d) = arc_domain
            && signer.arc.is_none()
            && !settings.keys.is_empty()
        {
            return Err(SignError {
                file: "councilgate.toml".into(),
                detail: format!("dkim.arc_domain = {d:?} has no key in dkim.keys"),
            });
        }
        Ok(signer)
    }

    /// The ARC sealer, when one of the keys is for `dkim.arc_domain`.
    pub fn arc(&self) -> Option<&ArcSealer> {
        self.arc.as_ref()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A `DKIM-Signature` field for `message` when its From domain has a
    /// key; `None` otherwise.
    pub fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        if self.keys.is_empty() {
            return None;
        }
        let parsed = mail_parser::MessageParser::default().parse_headers(message)?;
        let from = parsed.from()?.first()?.address()?.to_ascii_lowercase();
        let domain = crate::policy::directory::domain_of(&from);
        let (_, signer) = self.keys.iter().find(|(d, _)| d == domain)?;
        match signer.sign(message) {
            Ok(sig) => Some(sig.to_header().into_bytes()),
            Err(e) => {
                warn!(error = %e, %domain, "cannot DKIM-sign the message");
                None
            }
        }
    }
}
