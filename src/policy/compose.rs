//! What the rules that fired do to a message: the decision (reject beats
//! hold beats deliver), copies and redirects to the right people (never a
//! silent copy: everyone added is in the Cc header), footers and banners,
//! the protocol headers, and what the sender is told. Monitor-mode rules
//! are reported, not applied.

use super::Snapshot;
use super::detectors::Rcpt;
use super::directory::{Directory, PersonId};
use super::engine::Fired;
use super::rules::{Action, Mode};
use super::verdict::{Decision, RuleHit, Verdict};
use crate::message::Analysis;
use crate::message::envelope::Envelope;
use crate::message::rewrite::Changes;

/// Who a copy or redirect goes to: (address, name, person).
fn destinations(
    dir: &Directory,
    rcpts: &[Rcpt],
    targets: &[usize],
    to: &str,
) -> Vec<(String, String, Option<PersonId>)> {
    let person = |p: PersonId| {
        (
            dir.person(p).primary_address().to_string(),
            dir.person(p).name.clone(),
            Some(p),
        )
    };
    match to {
        "proper-officer" => vec![person(dir.proper_officer())],
        "deputy" => dir.deputies().map(person).collect(),
        // A manager as the directory writes their address — also for an
        // officer a redirect took the message away from: a staffing
        // matter is for the relevant managers (protocol 001 §1.09), so
        // keep-manager-informed still copies the manager.
        "manager" => targets
            .iter()
            .filter_map(|&i| rcpts[i].person)
            .filter_map(|p| dir.manager_of(p))
            .map(|(addr, m)| (addr.to_string(), dir.person(m).name.clone(), Some(m)))
            .collect(),
        addr => vec![(addr.to_string(), String::new(), dir.person_id(addr))],
    }
}

pub(super) fn compose(
    snapshot: &Snapshot,
    envelope: &Envelope,
    analysis: &Analysis<'_>,
    rcpts: &[Rcpt],
    sender: Option<PersonId>,
    fired: Vec<Fired<'_>>,
) -> (Verdict, Changes) {
    let dir = &snapshot.directory;
    let mut verdict = Verdict::deliver_unchanged(
        envelope,
        &snapshot.version,
        snapshot.semantic.as_ref().map(|s| s.model_identity()),
    );
    let mut changes = Changes::default();
    if fired.is_empty() {
        return (verdict, changes);
    }
    let mut removed: Vec<usize> = Vec::new();
    let mut added: Vec<(String, String)> = Vec::new(); // (address, display name)
    let mut enforced = Vec::new();
    let mut monitored = Vec::new();
    let present = |person: PersonId, added: &[(String, String)], removed: &[usize]| {
        rcpts
            .iter()
            .enumerate()
            .any(|(i, r)| r.person == Some(person) && !removed.contains(&i))
            || added.iter().any(|(a, _)| dir.person_id(a) == Some(person))
    };
    // Report every rule that fired, in the order of the rules file.
    for f in &fired {
        let def = &f.rule.def;
        let monitor = def.mode == Mode::Monitor;
        verdict.rules.push(RuleHit {
            id: def.id.clone(),
            action: if monitor {
                format!("monitor ({})", def.action.as_str())
            } else {
                def.action.as_str().to_string()
            },
            evidence: f.evidence.clone(),
        });
        if monitor {
            monitored.push(def.id.clone());
        } else {
            enforced.push(def.id.clone());
        }
    }
    // Apply enforced actions, redirects first so that copies know who no
    // longer receives the message.
    let mut order: Vec<&Fired<'_>> = fired
        .iter()
        .filter(|f| f.rule.def.mode == Mode::Enforce)
        .collect();
    order.sort_by_key(|f| f.rule.def.action != Action::Redirect);
    for f in order {
        let def = &f.rule.def;
        let to = def.to.as_deref().unwrap_or("");
        match def.action {
            Action::Reject => {
                verdict.decision = Decision::Reject;
                verdict.reject_reason.get_or_insert_with(|| {
                    def.reason.clone().unwrap_or_else(|| {
                        format!(
                            "Refused under the council protocol: {} ({})",
                            def.title, def.id
                        )
                    })
                });
            }
            Action::Hold => {
                if verdict.decision != Decision::Reject {
                    verdict.decision = Decision::Hold;
                }
            }
            Action::Flag => {}
            Action::Annotate => {
                if let Some(banner) = def.banner.as_deref().filter(|b| !b.trim().is_empty()) {
                    let claimed = match sender {
                        Some(p) => dir.person(p).name.clone(),
                        None => envelope.mail_from.clone(),
                    };
                    changes.banner.push(banner.replace("{sender}", &claimed));
                }
                let template = def.annotation.clone().unwrap_or_default();
                if template.contains("{name}") {
                    let mut names: Vec<String> = Vec::new();
                    for &i in &f.targets {
                        let n = match rcpts[i].person {
                            Some(p) => dir.person(p).name.clone(),
                            None => rcpts[i].address.clone(),
                        };
                        if !names.contains(&n) {
                            names.push(n);
                        }
                    }
                    for n in names {
                        changes.footer.push(template.replace("{name}", &n));
                    }
                } else if !template.trim().is_empty() {
                    changes.footer.push(template);
                }
            }
            Action::Copy => {
                for (addr, name, person) in destinations(dir, rcpts, &f.targets, to) {
                    let already = match person {
                        Some(p) => present(p, &added, &removed) || sender == Some(p),
                        None => envelope
                            .rcpt_to
                            .iter()
                            .any(|r| r.eq_ignore_ascii_case(&addr)),
                    };
                    if already || added.iter().any(|(a, _)| a.eq_ignore_ascii_case(&addr)) {
                        continue;
                    }
                    let who = if name.is_empty() {
                        addr.clone()
                    } else {
                        name.clone()
                    };
                    changes.footer.push(format!(
                        "Council protocol: {who} has been copied in on this message ({}: {}).",
                        def.id, def.title
                    ));
                    added.push((addr, name));
                }
            }
            Action::Redirect => {
                let gone: Vec<usize> = f
                    .targets
                    .iter()
                    .copied()
                    .filter(|i| !removed.contains(i))
                    .collect();
                let names: Vec<String> = gone
                    .iter()
                    .map(|&i| match rcpts[i].person {
                        Some(p) => dir.person(p).name.clone(),
                        None => rcpts[i].address.clone(),
                    })
                    .collect();
                removed.extend(gone.iter().copied());
                let mut to_names = Vec::new();
                for (addr, name, person) in destinations(dir, rcpts, &f.targets, to) {
                    to_names.push(if name.is_empty() {
                        addr.clone()
                    } else {
                        name.clone()
                    });
                    let already = match person {
                        Some(p) => present(p, &added, &removed),
                        None => envelope
                            .rcpt_to
                            .iter()
                            .any(|r| r.eq_ignore_ascii_case(&addr)),
                    };
                    if !already && !added.iter().any(|(a, _)| a.eq_ignore_ascii_case(&addr)) {
                        added.push((addr, name));
                    }
                }
                if !names.is_empty() {
                    let text = format!(
                        "Council protocol: this message was addressed to {} and has been sent to {} instead ({}: {}).",
                        names.join(", "),
                        to_names.join(", "),
                        def.id,
                        def.title
                    );
                    changes.footer.push(text.clone());
                    verdict.sender_notices.push(text);
                }
            }
        }
    }
    // Final envelope: originals less the redirected, plus copies.
    let mut recipients: Vec<String> = rcpts
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed.contains(i))
        .map(|(_, r)| r.address.clone())
        .collect();
    for (addr, name) in &added {
        if !recipients.iter().any(|r| r.eq_ignore_ascii_case(addr)) {
            recipients.push(addr.clone());
        }
        // No silent copies: everyone added is in the Cc header.
        if !analysis.is_visible(addr) {
            changes.cc.push((name.clone(), addr.clone()));
        }
    }
    if !enforced.is_empty() {
        changes
            .headers
            .push(("X-Council-Protocol".into(), enforced.join(", ")));
    }
    if !monitored.is_empty() {
        changes
            .headers
            .push(("X-Council-Protocol-Monitor".into(), monitored.join(", ")));
    }
    verdict.annotations = changes.notices();
    verdict.recipients = recipients;
    (verdict, changes)
}
