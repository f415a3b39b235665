//! The durable delivery queue: accepted messages wait in the spool until
//! every recipient is delivered or has failed for good.
//!
//! The runner keeps a schedule in memory, rebuilt from the spool at start
//! (so a restart resumes where the queue was), and runs deliveries with at
//! most `queue.workers` in flight. Temporary failures back off
//! exponentially; permanent failures and expiry produce a bounce to the
//! envelope sender — stored in the spool *before* the failure is recorded,
//! so a crash can repeat a bounce but never lose one. The null sender is
//! never bounced to.

pub mod spool;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::delivery::{self, Outcome, dsn};
use crate::message::envelope::Envelope;
use crate::settings::Settings;
use spool::{RecipientState, Spool, SpoolEntry};

/// The file `councilgate queue flush` creates to ask the runner to retry now.
pub const FLUSH_TRIGGER: &str = "queue.flush";

/// Handle used by sessions and notices to put messages on the queue.
pub struct Queue {
    spool: Spool,
    tx: mpsc::UnboundedSender<Queued>,
}

/// A message for the runner: its id and, while memory allows, its bytes,
/// so the first attempt need not read back what was just written.
pub struct Queued {
    id: String,
    message: Option<Arc<Vec<u8>>>,
}

/// Bytes of just-queued messages the runner keeps in memory at most; past
/// this, attempts read the spool.
const WARM_BYTES: usize = 64 * 1024 * 1024;

/// What the runner needs to deliver and bounce.
#[derive(Clone)]
pub struct QueueConfig {
    pub settings: Arc<Settings>,
    pub hostname: String,
    pub postmaster: String,
    pub data_dir: PathBuf,
    /// DKIM keys: mail from the council's domains is signed as it leaves.
    pub signer: Arc<crate::delivery::sign::Signer>,
    /// Idle connections to the next hops, reused by later deliveries.
    pub pool: Arc<delivery::relay::Pool>,
}

fn header_value(message: &[u8], name: &str) -> Option<String> {
    let end = crate::message::header_section_len(message);
    let head = String::from_utf8_lossy(&message[..end]);
    let mut lines = head.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case(name)
        {
            let mut value = v.trim().to_string();
            while let Some(next) = lines.peek() {
                if next.starts_with([' ', '\t']) {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            return Some(value);
        }
    }
    None
}

/// Runs a blocking spool read off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("spool task failed: {e}")))?
}

/// The bytes of messages queued but not yet attempted, within [`WARM_BYTES`].
#[derive(Default)]
struct Warm {
    messages: HashMap<String, Arc<Vec<u8>>>,
    bytes: usize,
}

impl Warm {
    fn keep(&mut self, id: &str, message: Arc<Vec<u8>>) {
        if self.bytes + message.len() <= WARM_BYTES && !self.messages.contains_key(id) {
            self.bytes += message.len();
            self.messages.insert(id.to_string(), message);
        }
    }

    fn take(&mut self, id: &str) -> Option<Arc<Vec<u8>>> {
        let m = self.messages.remove(id)?;
        self.bytes -= m.len();
        Some(m)
    }
}

impl Queue {
    /// Opens the spool under `data_dir/spool`; the receiver goes to [`run`].
    pub fn open(
        data_dir: &std::path::Path,
    ) -> io::Result<(Arc<Queue>, mpsc::UnboundedReceiver<Queued>)> {
        let spool = Spool::open(data_dir.join("spool"))?;
        let (tx, rx) = mpsc::unbounded_channel();
        Ok((Arc::new(Queue { spool, tx }), rx))
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Stores a message durably and schedules it. Returns the queue id once
    /// the message is on disk; only then may the client be told 250.
    pub async fn enqueue(
        &self,
        mail_from: &str,
        recipients: &[String],
        message: Arc<Vec<u8>>,
        received: Option<Envelope>,
    ) -> io::Result<String> {
        self.enqueue_as(spool::new_id(), mail_from, recipients, message, received)
            .await
    }

    /// [`Queue::enqueue`] under an id the caller already gave out (the
    /// session's queue id, so logs and replies agree).
    pub async fn enqueue_as(
        &self,
        id: String,
        mail_from: &str,
        recipients: &[String],
        message: Arc<Vec<u8>>,
        received: Option<Envelope>,
    ) -> io::Result<String> {
        let mut entry = SpoolEntry::new(&id, mail_from, recipients, received);
        entry.message_id = header_value(&message[..], "Message-ID");
        self.spool.store(entry, message.clone()).await?;
        // The runner may be gone during shutdown; the spool has the message
        // and the next start delivers it.
        let _ = self.tx.send(Queued {
            id: id.clone(),
            message: Some(message),
        });
        Ok(id)
    }
}

fn backoff(settings: &Settings, attempts: u32) -> i64 {
    let initial = settings.queue.retry_initial_secs;
    let shift = attempts.saturating_sub(1).min(32);
    let delay = initial.saturating_mul(1u64 << shift);
    delay.min(settings.queue.retry_max_secs) as i64
}

/// Runs deliveries until `shutdown`; in-flight deliveries get
/// `shutdown_grace_secs` to finish.
pub async fn run(
    queue: Arc<Queue>,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    cfg: QueueConfig,
    shutdown: CancellationToken,
) {
    let mut schedule: BinaryHeap<Reverse<(i64, String)>> = BinaryHeap::new();
    match queue.spool.list() {
        Ok((entries, problems)) => {
            for p in problems {
                warn!(problem = %p, "spool entry cannot be read; left in place");
            }
            if !entries.is_empty() {
                info!(count = entries.len(), "resuming queued messages");
            }
            for e in entries {
                schedule.push(Reverse((e.next_attempt, e.id)));
            }
        }
        Err(e) => warn!(error = %e, "cannot list spool"),
    }
    let flush_path = cfg.data_dir.join(FLUSH_TRIGGER);
    let workers = cfg.settings.queue.workers;
    let mut running: JoinSet<(String, Option<i64>)> = JoinSet::new();
    let mut in_flight: HashSet<String> = HashSet::new();
    // Ids that arrived again while in flight (a flush): run once more after.
    let mut again: HashMap<String, i64> = HashMap::new();
    let mut warm = Warm::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Start everything due, as far as workers allow.
        let now = Utc::now().timestamp();
        while running.len() < workers {
            let Some(Reverse((due, _))) = schedule.peek() else {
                break;
            };
            if *due > now {
                break;
            }
            let Some(Reverse((_, id))) = schedule.pop() else {
                break;
            };
            if !in_flight.insert(id.clone()) {
                continue;
            }
            let q = queue.clone();
            let c = cfg.clone();
            let message = warm.take(&id);
            let span = info_span!("delivery", queue_id = %id);
            running.spawn(
                async move {
                    let next = attempt(&q, &c, &id, message).await;
                    (id, next)
                }
                .instrument(span),
            );
        }
        let next_due = schedule.peek().map(|Reverse((d, _))| *d);
        let sleep_for = match next_due {
            Some(d) if running.len() < workers => Duration::from_secs((d - now).clamp(0, 1) as u64),
            _ => Duration::from_secs(1),
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(Queued { id, message }) = rx.recv() => {
                if let Some(m) = message {
                    warm.keep(&id, m);
                }
                if in_flight.contains(&id) {
                    again.insert(id, Utc::now().timestamp());
                } else {
                    schedule.push(Reverse((Utc::now().timestamp(), id)));
                }
            }
            Some(done) = running.join_next(), if !running.is_empty() => {
                match done {
                    Ok((id, next)) => {
                        in_flight.remove(&id);
                        // Bytes kept for an id queued twice are not needed now.
                        warm.take(&id);
                        let forced = again.remove(&id);
                        if let Some(n) = next {
                            schedule.push(Reverse((forced.map_or(n, |f| f.min(n)), id)));
                        }
                    }
                    Err(e) => warn!(error = %e, "delivery task failed"),
                }
            }
            _ = tokio::time::sleep(sleep_for) => {}
            _ = tick.tick() => {
                let pool = cfg.pool.clone();
                tokio::spawn(async move { pool.close_idle().await });
                if flush_path.exists() {
                    let _ = std::fs::remove_file(&flush_path);
                    let now = Utc::now().timestamp();
                    let items: Vec<_> = schedule.drain().map(|Reverse((_, id))| id).collect();
                    info!(count = items.len(), "queue flush requested");
                    for id in items {
                        schedule.push(Reverse((now, id)));
                    }
                }
            }
        }
    }
    let grace = Duration::from_secs(cfg.settings.server.shutdown_grace_secs);
    let drain = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        warn!("deliveries still running at shutdown were stopped; they will be retried");
        running.abort_all();
    }
    let close = cfg.pool.close_all();
    let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
}

/// One delivery attempt for every pending recipient. Returns the next
/// attempt time when recipients remain pending.
async fn attempt(
    queue: &Queue,
    cfg: &QueueConfig,
    id: &str,
    warm: Option<Arc<Vec<u8>>>,
) -> Option<i64> {
    let spool = queue.spool.clone();
    let owned = id.to_string();
    let loaded = match (spool.entry(id), warm) {
        (Ok(entry), Some(message)) => Ok((entry, Arc::unwrap_or_clone(message))),
        (Ok(entry), None) => blocking(move || spool.message(&owned))
            .await
            .map(|m| (entry, m)),
        (Err(e), _) => Err(e),
    };
    let (mut entry, message) = match loaded {
        Ok(x) => x,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            warn!(error = %e, "cannot read spooled message; retrying later");
            return Some(Utc::now().timestamp() + cfg.settings.queue.retry_initial_secs as i64);
        }
    };
    // Signed as it leaves, after every rewrite, so the council's own DMARC
    // holds for annotated mail.
    let message = match cfg.signer.sign(&message) {
        Some(mut signed) => {
            signed.extend_from_slice(&message);
            signed
        }
        None => message,
    };
    let settings = &cfg.settings;
    // Group pending recipients by next hop (None: the outbox).
    let mut groups: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
    for (i, r) in entry.recipients.iter().enumerate() {
        if r.state != RecipientState::Pending {
            continue;
        }
        let domain = crate::policy::directory::domain_of(&r.address).to_ascii_lowercase();
        let route = settings
            .route_for(&domain)
            .and_then(|rt| settings.routes.iter().position(|x| std::ptr::eq(x, rt)));
        match groups.iter_mut().find(|(k, _)| *k == route) {
            Some((_, v)) => v.push(i),
            None => groups.push((route, vec![i])),
        }
    }
    let timeout = Duration::from_secs(settings.queue.connect_timeout_secs);
    let mut newly_failed = Vec::new();
    for (route, idxs) in groups {
        let rcpts: Vec<String> = idxs
            .iter()
            .map(|&i| entry.recipients[i].address.clone())
            .collect();
        let outcomes = match route {
            Some(ri) => {
                let route = &settings.routes[ri];
                // To the council's own tenant: with the gateway's mark, so
                // its routing rule delivers instead of sending it back.
                let marked;
                let bytes: &[u8] = if route.mark {
                    marked = [
                        crate::message::mark::line(settings.hairpin.mark_secret.expose().trim()),
                        message.clone(),
                    ]
                    .concat();
                    &marked
                } else {
                    &message
                };
                delivery::relay::deliver(
                    &cfg.pool,
                    route,
                    &cfg.hostname,
                    timeout,
                    &entry.mail_from,
                    &rcpts,
                    bytes,
                )
                .await
            }
            None => {
                let dir = cfg.data_dir.join("outbox");
                let (qid, from, msg) = (entry.id.clone(), entry.mail_from.clone(), message.clone());
                let r2 = rcpts.clone();
                tokio::task::spawn_blocking(move || {
                    delivery::outbox::deliver(&dir, &qid, &from, &r2, &msg)
                })
                .await
                .unwrap_or_else(|e| {
                    rcpts
                        .iter()
                        .map(|_| Outcome::Temporary(format!("outbox task: {e}")))
                        .collect()
                })
            }
        };
        for (&i, outcome) in idxs.iter().zip(outcomes) {
            let r = &mut entry.recipients[i];
            match outcome {
                Outcome::Delivered(reply) => {
                    info!(rcpt = %r.address, %reply, "delivered");
                    crate::metrics::delivery_latency(
                        (Utc::now().timestamp() - entry.created) as f64,
                    );
                    r.state = RecipientState::Delivered { reply };
                }
                Outcome::Permanent(reply) => {
                    warn!(rcpt = %r.address, %reply, "delivery failed permanently");
                    crate::metrics::delivery_failure("permanent");
                    r.state = RecipientState::Failed {
                        reply: reply.clone(),
                    };
                    newly_failed.push((i, reply, true));
                }
                Outcome::Temporary(reply) => {
                    info!(rcpt = %r.address, %reply, "delivery deferred");
                    crate::metrics::delivery_failure("temporary");
                    r.last_error = Some(reply);
                }
            }
        }
    }
    entry.attempts += 1;
    let now = Utc::now().timestamp();
    if now - entry.created >= settings.queue.give_up_secs as i64 {
        for (i, r) in entry.recipients.iter_mut().enumerate() {
            if r.state == RecipientState::Pending {
                let reason = format!(
                    "4.4.7 delivery expired after {} attempts; last error: {}",
                    entry.attempts,
                    r.last_error.as_deref().unwrap_or("none")
                );
                warn!(rcpt = %r.address, %reason, "delivery expired");
                r.state = RecipientState::Failed {
                    reply: reason.clone(),
                };
                newly_failed.push((i, reason, false));
            }
        }
    }
    if !newly_failed.is_empty() && !entry.mail_from.is_empty() {
        let failures: Vec<dsn::Failure<'_>> = newly_failed
            .iter()
            .map(|(i, reply, smtp)| dsn::Failure {
                recipient: &entry.recipients[*i].address,
                diagnostic: reply,
                smtp: *smtp,
            })
            .collect();
        let arrival = Utc
            .timestamp_opt(entry.created, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let report = dsn::build(
            &cfg.hostname,
            &cfg.postmaster,
            &entry.mail_from,
            &entry.id,
            arrival,
            &failures,
            &message,
            Utc::now(),
        );
        // Bounce first, then record the failure: a crash in between repeats
        // the bounce rather than losing it.
        if let Err(e) = queue
            .enqueue(
                "",
                std::slice::from_ref(&entry.mail_from),
                Arc::new(report),
                None,
            )
            .await
        {
            warn!(error = %e, "cannot queue bounce; the attempt will be repeated");
            return Some(now + settings.queue.retry_initial_secs as i64);
        }
        info!(to = %entry.mail_from, count = newly_failed.len(), "bounce queued");
    }
    let pending = entry.pending().count();
    if pending == 0 {
        if let Err(e) = queue.spool.remove(&entry.id) {
            warn!(error = %e, "cannot remove delivered message from spool");
        }
        return None;
    }
    entry.next_attempt = now + backoff(settings, entry.attempts);
    let next = entry.next_attempt;
    if let Err(e) = queue.spool.update(entry).await {
        warn!(error = %e, "cannot record delivery state");
    }
    Some(next)
}
