//! councilgate: a mail gateway for local councils that enforces the
//! councillor–officer protocol on email.
//!
//! # Layout
//!
//! The folders follow the path a message takes (ARCHITECTURE.md draws it):
//!
//! - [`smtp`]: listeners and sessions (one file per verb under
//!   `smtp/session/`); [`smtp::data`] is the sans-I/O DATA decoder. A
//!   session hands what it accepted to the pipeline and turns the
//!   [`pipeline::Outcome`] into a reply.
//! - [`pipeline`]: the stages of one message — authenticate the sender
//!   ([`pipeline::sender_auth`]), parse once, bind the From to the login,
//!   evaluate the policy, rewrite, seal, commit — ending in an `Outcome`.
//! - [`message`]: the envelope, the one parse every stage shares
//!   ([`message::View`]), the author's new text, MIME rewriting, notices.
//! - [`policy`]: the council directory, the adopted protocol, the rules,
//!   word lists, detectors, the engine and the verdict; a compiled
//!   [`policy::Snapshot`] swapped atomically.
//! - [`queue`]: the durable spool (segments, index, replay, writer) and
//!   the delivery scheduler (retries, expiry, bounces).
//! - [`delivery`]: relaying to the next hop, the local outbox, DKIM
//!   signing, and delivery status notifications.
//! - [`store`]: held messages, the hash-chained audit log, users and
//!   sessions, configuration history (SQLite or PostgreSQL), typed rows.
//! - [`review`]: holding, deciding, notices to senders and reviewers,
//!   expiry and reminders.
//! - [`web`]: the review and admin pages.
//!
//! Beside the path:
//!
//! - [`tuning`]: `check`, fixtures, comparing policies, hot reload.
//! - [`server`]: building every context, binding, running, shutting down;
//!   TLS; `/metrics` and health.
//! - [`auth`]: passwords, tokens, the failure throttle, SMTP logins.
//! - [`settings`]: `councilgate.toml` and environment overrides;
//!   [`metrics`]: the Prometheus counters. Every layer reads these two.
//!
//! The binary's commands live in `src/cli/`, one module each.

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
