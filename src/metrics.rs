//! Prometheus metrics: messages by verdict and rule, SMTP sessions, policy
//! evaluation time and acceptance latency, queue depth and age, held
//! count, delivery failures. One recorder per process, rendered by
//! `/metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::policy::Verdict;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (once per process); later calls reuse it.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.000_05, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025,
                0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

pub fn verdict(v: &Verdict) {
    counter!("councilgate_messages_total", "verdict" => v.decision.as_str()).increment(1);
    for r in &v.rules {
        let mode = if r.action.starts_with("monitor") {
            "monitor"
        } else {
            "enforce"
        };
        counter!("councilgate_rule_fired_total", "rule" => r.id.clone(), "mode" => mode)
            .increment(1);
    }
}

pub fn policy_time(d: Duration) {
    histogram!("councilgate_policy_evaluation_seconds").record(d.as_secs_f64());
}

/// From the end of DATA to the reply (policy and durable storage).
pub fn acceptance_time(d: Duration) {
    histogram!("councilgate_acceptance_seconds").record(d.as_secs_f64());
}

/// From acceptance to delivery at the next hop.
pub fn delivery_latency(secs: f64) {
    histogram!("councilgate_delivery_latency_seconds").record(secs.max(0.0));
}

pub fn session_opened(listener: &'static str) {
    counter!("councilgate_smtp_sessions_total", "listener" => listener).increment(1);
    gauge!("councilgate_smtp_sessions_active").increment(1.0);
}

/// A connection refused with 421 before its session began: `limit` is
/// `total` (`smtp.max_sessions`), `per_address` (`smtp.max_sessions_per_ip`)
/// or `rate` (`smtp.max_connection_rate_per_ip`).
/// A message whose new text was split into sentences and read by the
/// content rules (mail no content rule can apply to is not).
pub fn text_read() {
    counter!("councilgate_policy_text_analysed_total").increment(1);
}

/// An idle session closed to make room for a new client.
pub fn session_evicted() {
    counter!("councilgate_smtp_sessions_evicted_total").increment(1);
}

pub fn session_refused(limit: &'static str) {
    counter!("councilgate_smtp_sessions_refused_total", "limit" => limit).increment(1);
}

/// An SMTP login refused: `invalid` (wrong name or password),
/// `throttled` (too many failures from the address or for the user) or
/// `busy` (too many password checks waiting; nothing was checked).
pub fn login_refused(why: &'static str) {
    counter!("councilgate_smtp_logins_refused_total", "reason" => why).increment(1);
}

/// Inbound sender authentication: the DMARC result.
pub fn sender_auth(dmarc: &'static str) {
    counter!("councilgate_sender_auth_total", "dmarc" => dmarc).increment(1);
}

pub fn session_closed() {
    gauge!("councilgate_smtp_sessions_active").decrement(1.0);
}

pub fn delivery_failure(kind: &'static str) {
    counter!("councilgate_delivery_failures_total", "kind" => kind).increment(1);
}

pub fn queue(depth: usize, oldest_age_secs: i64, held: usize) {
    gauge!("councilgate_queue_depth").set(depth as f64);
    gauge!("councilgate_queue_oldest_age_seconds").set(oldest_age_secs as f64);
    gauge!("councilgate_held_messages").set(held as f64);
}
