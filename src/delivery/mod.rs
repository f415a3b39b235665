//! Delivery to the next hop: an SMTP relay chosen by `[[routes]]`, or the
//! local `outbox/` folder when no route is configured; and the delivery
//! status notifications (bounces) sent when delivery fails for good.

pub mod dsn;
pub mod outbox;
pub mod relay;
pub mod sign;
pub mod stuffing;
pub mod verify;

/// What happened to one recipient on one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(String),
    /// 4xx or a connection problem: try again later.
    Temporary(String),
    /// 5xx: give up and bounce.
    Permanent(String),
}
