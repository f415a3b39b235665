//! Signed action links: what a reviewer's notice carries so a decision is
//! one tap from the mail. A link names the held message, the action
//! (release, or return with the rule's template note), the reviewer it was
//! sent to, when it expires and a nonce; an HMAC-SHA256 over all of it with
//! the store's link key makes it unforgeable. Following one never changes
//! anything (the page asks first, and needs the reviewer signed in); the
//! store keeps each used nonce, so a link works once.
//!
//! Plain functions over bytes: signing and checking do no I/O.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;

/// How long a link lives at most (and never past the hold's expiry).
pub const LINK_DAYS: i64 = 7;

/// What a link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    Release,
    /// Return to the sender with the template note of the rule that held
    /// it.
    Return,
}

impl LinkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Release => "release",
            LinkAction::Return => "return",
        }
    }

    fn parse(s: &str) -> Option<LinkAction> {
        match s {
            "release" => Some(LinkAction::Release),
            "return" => Some(LinkAction::Return),
            _ => None,
        }
    }
}

/// One link's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionLink {
    pub held: String,
    pub action: LinkAction,
    /// The reviewer's address the notice went to.
    pub reviewer: String,
    /// Unix time after which it no longer works.
    pub expires: i64,
    /// Unique per link: the store records it when used.
    pub nonce: String,
}

/// Why a link does not work (each has its own page).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this link is not one the gateway made, or it was changed")]
    Tampered,
    #[error("this link has expired")]
    Expired,
    #[error("this link has been used already")]
    Used,
    #[error("this link was sent to another reviewer")]
    OtherReviewer,
}

/// The link key and where the review pages are.
#[derive(Clone)]
pub struct ActionLinks {
    key: hmac::Key,
    base_url: String,
}

impl std::fmt::Debug for ActionLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never printed.
        f.debug_struct("ActionLinks")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn payload(l: &ActionLink) -> String {
    format!(
        "v1\n{}\n{}\n{}\n{}\n{}",
        l.held,
        l.action.as_str(),
        l.reviewer.to_lowercase(),
        l.expires,
        l.nonce
    )
}

impl ActionLinks {
    pub fn new(secret: &[u8], base_url: &str) -> ActionLinks {
        ActionLinks {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// The token for a link (URL-safe).
    pub fn token(&self, l: &ActionLink) -> String {
        let p = payload(l);
        let tag = hmac::sign(&self.key, p.as_bytes());
        format!("{}.{}", B64.encode(p.as_bytes()), B64.encode(tag.as_ref()))
    }

    /// The address a notice carries.
    pub fn url(&self, l: &ActionLink) -> String {
        format!("{}/act/{}", self.base_url, self.token(l))
    }

    /// A new link for `reviewer` to act on `held`, expiring at the sooner of
    /// `hold_expires` and [`LINK_DAYS`] from `now`.
    pub fn make(
        &self,
        held: &str,
        action: LinkAction,
        reviewer: &str,
        now: i64,
        hold_expires: i64,
    ) -> ActionLink {
        ActionLink {
            held: held.to_string(),
            action,
            reviewer: reviewer.to_lowercase(),
            expires: hold_expires.min(now + LINK_DAYS * 86_400),
            nonce: crate::auth::token()[..32].to_string(),
        }
    }

    /// Checks a token's signature and shape, and its expiry against `now`,
    /// and that `user` (the signed-in reviewer) is who it was sent to. Use
    /// is the store's to check.
    pub fn check(&self, token: &str, now: i64, user: &str) -> Result<ActionLink, LinkError> {
        let link = self.verify(token)?;
        if now >= link.expires {
            return Err(LinkError::Expired);
        }
        if !link.reviewer.eq_ignore_ascii_case(user) {
            return Err(LinkError::OtherReviewer);
        }
        Ok(link)
    }

    /// The link a token carries, if the gateway made it unchanged.
    pub fn verify(&self, token: &str) -> Result<ActionLink, LinkError> {
        if token.len() > 2000 {
            return Err(LinkError::Tampered);
        }
        let (p, tag) = token.split_once('.').ok_or(LinkError::Tampered)?;
        let p = B64.decode(p).map_err(|_| LinkError::Tampered)?;
        let tag = B64.decode(tag).map_err(|_| LinkError::Tampered)?;
        hmac::verify(&self.key, &p, &tag).map_err(|_| LinkError::Tampered)?;
        let p = String::from_utf8(p).map_err(|_| LinkError::Tampered)?;
        let f: Vec<&str> = p.split('\n').collect();
        let [v, held, action, reviewer, expires, nonce] = f[..] else {
            return Err(LinkError::Tampered);
        };
        if v != "v1" {
            return Err(LinkError::Tampered);
        }
        Ok(ActionLink {
            held: held.to_string(),
            action: LinkAction::parse(action).ok_or(LinkError::Tampered)?,
            reviewer: reviewer.to_string(),
            expires: expires.parse().map_err(|_| LinkError::Tampered)?,
            nonce: nonce.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> ActionLinks {
        ActionLinks::new(
            b"0123456789abcdef0123456789abcdef",
            "https://review.example/",
        )
    }

    #[test]
    fn a_link_made_is_a_link_checked() {
        let l = links();
        let link = l.make(
            "abc",
            LinkAction::Release,
            "Clerk@Example.org",
            1000,
            999_999,
        );
        let token = l.token(&link);
        assert_eq!(l.check(&token, 2000, "clerk@example.org"), Ok(link.clone()));
        assert!(l.url(&link).starts_with("https://review.example/act/"));
        assert_eq!(link.expires, 1000 + LINK_DAYS * 86_400);
    }

    #[test]
    fn a_link_expires_with_the_hold_or_after_seven_days() {
        let l = links();
        let link = l.make("abc", LinkAction::Return, "a@b", 1000, 5000);
        assert_eq!(link.expires, 5000);
        let token = l.token(&link);
        assert_eq!(l.check(&token, 5000, "a@b"), Err(LinkError::Expired));
    }

    #[test]
    fn a_changed_link_or_another_key_is_refused() {
        let l = links();
        let link = l.make("abc", LinkAction::Return, "a@b", 1000, 99_999);
        let token = l.token(&link);
        // The action changed from return to release, signature kept.
        let mut forged = link.clone();
        forged.action = LinkAction::Release;
        let sig = token.split_once('.').map(|(_, s)| s).unwrap_or_default();
        let forged = format!("{}.{sig}", B64.encode(payload(&forged)));
        assert_eq!(l.check(&forged, 2000, "a@b"), Err(LinkError::Tampered));
        let other = ActionLinks::new(b"another key entirely, 32 bytes!!", "https://x");
        assert_eq!(other.check(&token, 2000, "a@b"), Err(LinkError::Tampered));
        for junk in ["", ".", "abc", "a.b.c", &"x".repeat(3000)] {
            assert_eq!(
                l.check(junk, 2000, "a@b"),
                Err(LinkError::Tampered),
                "{junk}"
            );
        }
    }

    #[test]
    fn a_link_for_one_reviewer_does_not_work_for_another() {
        let l = links();
        let link = l.make(
            "abc",
            LinkAction::Release,
            "deputy@example.org",
            1000,
            99_999,
        );
        assert_eq!(
            l.check(&l.token(&link), 2000, "clerk@example.org"),
            Err(LinkError::OtherReviewer)
        );
    }

    #[test]
    fn the_key_is_never_printed() {
        assert!(!format!("{:?}", links()).contains("0123456789"));
    }
}
