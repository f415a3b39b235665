//! SASL PLAIN (RFC 4616) and LOGIN for SMTP AUTH (RFC 4954): decoding the
//! client's base64 responses into credentials. Sans-I/O.
//!
//! Written here rather than taken from a crate: the two mechanisms are a
//! few lines of base64 and NUL-splitting, and the crates that offer them
//! (rsasl) bring a C-style callback framework for mechanisms we do not use.

use base64::Engine as _;

/// A user name and password from the client. The password is never
/// printed (no `Debug` of it).
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("the response is not valid base64")]
    Base64,
    #[error("the response is not valid UTF-8")]
    Utf8,
    #[error("a PLAIN response is authzid NUL authcid NUL password")]
    Plain,
    #[error("authorisation identity {0} differs from the user name")]
    Authzid(String),
    #[error("authentication cancelled by the client")]
    Cancelled,
}

/// Decodes one base64 response line (without CRLF); `*` cancels.
pub fn decode(line: &str) -> Result<String, SaslError> {
    let line = line.trim();
    if line == "*" {
        return Err(SaslError::Cancelled);
    }
    if line.is_empty() || line == "=" {
        return Ok(String::new());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .map_err(|_| SaslError::Base64)?;
    String::from_utf8(bytes).map_err(|_| SaslError::Utf8)
}

/// PLAIN: `authzid \0 authcid \0 password`. An authorisation identity other
/// than the user's own is refused (no acting as someone else).
pub fn plain(response: &str) -> Result<Credentials, SaslError> {
    let decoded = decode(response)?;
    let mut parts = decoded.split('\0');
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Plain);
    };
    if user.is_empty() {
        return Err(SaslError::Plain);
    }
    if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(user) {
        return Err(SaslError::Authzid(authzid.to_string()));
    }
    Ok(Credentials {
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// The LOGIN mechanism's two prompts, "Username:" and "Password:".
pub const LOGIN_USER_PROMPT: &str = "VXNlcm5hbWU6";
pub const LOGIN_PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn plain_credentials() {
        let c = plain(&b64("\0cllr.smith@example-tc.gov.uk\0s3cret pass")).expect("plain");
        assert_eq!(c.user, "cllr.smith@example-tc.gov.uk");
        assert_eq!(c.password, "s3cret pass");
        let same = plain(&b64("a@x.org\0a@x.org\0pw")).expect("own authzid");
        assert_eq!(same.user, "a@x.org");
        assert!(!format!("{c:?}").contains("s3cret"), "no password in Debug");
    }

    #[test]
    fn malformed_plain_is_refused_with_its_reason() {
        assert_eq!(plain("!!!").unwrap_err(), SaslError::Base64);
        assert_eq!(plain(&b64("only-one-part")).unwrap_err(), SaslError::Plain);
        assert_eq!(plain(&b64("\0\0pw")).unwrap_err(), SaslError::Plain);
        assert_eq!(plain(&b64("a\0b\0c\0d")).unwrap_err(), SaslError::Plain);
        assert_eq!(
            plain(&b64("clerk@x.org\0cllr@x.org\0pw")).unwrap_err(),
            SaslError::Authzid("clerk@x.org".into())
        );
        assert_eq!(decode("*").unwrap_err(), SaslError::Cancelled);
    }
}
