//! The second factor for the review pages: time-based one-time codes
//! (TOTP, RFC 6238: HMAC-SHA1, six digits, 30-second steps, one step of
//! clock skew either way — what every authenticator app does), through the
//! `totp-rs` crate; the QR code that enrols an app (`qrcodegen`, drawn as
//! inline SVG so the page loads nothing); and recovery codes, of which the
//! store keeps only hashes. Plain functions: no I/O.

use sha2::{Digest, Sha256};
use totp_rs::{Builder, Secret, Totp};

/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;

/// A new secret: 20 random bytes (160 bits, RFC 4226's recommendation),
/// as the base32 text authenticator apps take.
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::random();
    Secret::from(bytes.to_vec()).to_base32()
}

fn clean(s: &str) -> String {
    // The otpauth label may not hold ':'.
    s.replace(':', " ")
}

fn totp(secret_b32: &str, account: &str, issuer: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_b32).ok()?;
    Builder::new()
        .with_secret(secret)
        .with_account_name(clean(account))
        .with_issuer(Some(clean(issuer)))
        .build()
        .ok()
}

/// The step a code is good for at `now` (within one step of skew), or
/// `None`. The caller accepts a step only once (RFC 6238 §5.2).
pub fn check(secret_b32: &str, code: &str, now: i64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret_b32, "x", "x")?.check(&code, u64::try_from(now).ok()?)
}

/// The code at `now` (for tests and tools).
pub fn code_at(secret_b32: &str, now: i64) -> Option<String> {
    Some(
        totp(secret_b32, "x", "x")?
            .generate(u64::try_from(now).ok()?)
            .to_string(),
    )
}

/// The `otpauth://` address an authenticator app enrols from.
pub fn otpauth_url(secret_b32: &str, account: &str, issuer: &str) -> Option<String> {
    totp(secret_b32, account, issuer)?.to_url().ok()
}

/// `text` as a QR code in SVG (black modules on white, a four-module quiet
/// zone), for an `<img>`-free page.
pub fn qr_svg(text: &str) -> Option<String> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let border = 4;
    let size = qr.size();
    let dim = size + border * 2;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" width=\"240\" height=\"240\" role=\"img\" aria-label=\"QR code to scan with an authenticator app\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// New recovery codes ("k7m2-q9xd"): shown once, kept as hashes.
pub fn recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let pick: [u8; 8] = rand::random();
            let s: String = pick
                .iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &s[..4], &s[4..])
        })
        .collect()
}

/// What the store keeps of a recovery code.
pub fn recovery_hash(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(norm.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_made_now_checks_now_and_a_step_either_side_but_not_two() {
        let s = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&s, now).expect("code");
        assert_eq!(check(&s, &code, now), Some(now as u64 / 30));
        assert!(check(&s, &code, now + 30).is_some());
        assert!(check(&s, &code, now + 90).is_none());
        assert!(check(&s, "12345", now).is_none());
        assert!(check(&s, "abcdef", now).is_none());
    }

    #[test]
    fn the_rfc_6238_test_vector_for_sha1() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 s,
        // 8 digits 94287082; six digits are its last six.
        let s = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(code_at(&s, 59).as_deref(), Some("287082"));
    }

    #[test]
    fn the_enrolment_address_and_qr_code() {
        let s = new_secret();
        let url = otpauth_url(&s, "clerk@example.org", "Example: Town").expect("url");
        assert!(
            url.starts_with("otpauth://totp/") && url.contains(&s),
            "{url}"
        );
        let svg = qr_svg(&url).expect("svg");
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_hashed_without_their_dash_or_case() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut d = codes.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), codes.len());
        assert_eq!(
            recovery_hash(&codes[0]),
            recovery_hash(&codes[0].replace('-', "").to_uppercase())
        );
    }
}
