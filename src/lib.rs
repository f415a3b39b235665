//! councilgate: a mail gateway for local councils that enforces the
//! councillor–officer protocol on email.
//!
//! # Layout
//!
//! The folders follow the path a message takes:
//!
//! - [`smtp`]: listeners and sessions (`inbound` for the MX role,
//!   `submission` for staff and councillors); [`smtp::data`] is the
//!   sans-I/O DATA decoder.
//! - [`gateway`]: the seam between "message received" and "message
//!   queued", where the policy verdict decides: deliver, hold or reject.
//! - [`policy`]: the council directory, the rules, and the verdict; a
//!   compiled [`policy::Snapshot`] swapped atomically.
//! - [`queue`]: the durable spool and the delivery scheduler (retries,
//!   expiry, bounces).
//! - [`delivery`]: relaying to the next hop, the local outbox, and
//!   delivery status notifications.
//! - [`message`]: parsing, the writer's new text, MIME rewriting.
//! - [`store`]: held messages, the hash-chained audit log, users and
//!   sessions (SQLite or PostgreSQL).
//! - [`review`]: deciding held messages, notices, expiry and reminders.
//! - [`web`]: the review pages.
//! - [`check`], [`fixtures`]: evaluating messages offline.
//! - [`settings`]: `councilgate.toml` and environment overrides.
//! - [`server`]: assembling and running all of the above.

pub mod auth;
pub mod delivery;
pub mod message;
pub mod metrics;
pub mod pipeline;
pub mod policy;
pub mod queue;
pub mod review;
pub mod server;
pub mod settings;
pub mod smtp;
pub mod store;
pub mod tuning;
pub mod web;
