//! `councilgate check`: what the gateway would do with one message, as JSON
//! for tools or as a readable explanation citing the protocol.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;

use crate::message::envelope::{Envelope, ListenerKind};
use crate::policy::{Snapshot, Verdict};

/// The envelope `check` evaluates: as if submitted from a trusted network.
pub fn envelope(mail_from: &str, rcpts: &[String]) -> Envelope {
    Envelope {
        mail_from: mail_from.to_string(),
        rcpt_to: rcpts.to_vec(),
        listener: ListenerKind::Submission,
        peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
        helo: "check".into(),
        authenticated: None,
        trusted: true,
        sender_verified: true,
    }
}

/// The same envelope as if it came from outside with a From that could
/// not be verified (no DMARC pass, no login): `check --unverified`.
pub fn unverified(mut envelope: Envelope) -> Envelope {
    envelope.listener = ListenerKind::Inbound;
    envelope.trusted = false;
    envelope.sender_verified = false;
    envelope
}

/// Exactly one JSON object: verdict, rules, recipients, annotations.
pub fn to_json(v: &Verdict) -> serde_json::Value {
    json!({
        "verdict": v.decision.as_str(),
        "rules": v.rules.iter().map(|r| json!({"id": r.id, "action": r.action, "evidence": r.evidence})).collect::<Vec<_>>(),
        "recipients": v.recipients,
        "annotations": v.annotations,
        "policy": v.snapshot_version,
        "model": v.model,
        "text_unread": v.text_unread,
        "language": v.language,
    })
}

/// A readable explanation citing each rule's protocol text.
pub fn explain(snapshot: &Snapshot, envelope: &Envelope, v: &Verdict) -> String {
    let mut out = String::new();
    let what = match v.decision {
        crate::policy::Decision::Deliver => "DELIVER",
        crate::policy::Decision::Hold => "HOLD for the Proper Officer's review",
        crate::policy::Decision::Reject => "REJECT",
    };
    out.push_str(&format!("Verdict: {what}\n"));
    out.push_str(&format!("Policy version: {}\n", v.snapshot_version));
    out.push_str(&format!(
        "Meaning read by: {}\n",
        v.model
            .as_deref()
            .unwrap_or("nothing (policy.semantic = \"off\")")
    ));
    if let Some(l) = &v.language {
        out.push_str(&format!(
            "Language of the new text: {l} (Welsh sentences are not read for meaning; see README, \"Welsh\")\n"
        ));
    }
    if let Some(n) = v.text_unread {
        out.push_str(&format!(
            "Text not read by the content rules: {n} bytes beyond the first {} KiB of a part\n",
            crate::message::analysis::TEXT_PER_PART / 1024
        ));
    }
    if v.rules.is_empty() {
        out.push_str("No protocol rule applies to this message.\n");
    }
    for hit in &v.rules {
        let rule = snapshot.rules.iter().find(|r| r.def.id == hit.id);
        out.push_str(&format!("\nRule {} — action: {}\n", hit.id, hit.action));
        if let Some(r) = rule {
            out.push_str(&format!("  {}\n", r.def.title));
            if !r.def.source.is_empty() {
                out.push_str(&format!("  Source: {}\n", r.def.source));
            }
            out.push_str(&format!(
                "  The protocol says: {}\n",
                r.def.reference.trim()
            ));
        }
        out.push_str("  Evidence:\n");
        for e in &hit.evidence {
            out.push_str(&format!("    - {e}\n"));
        }
    }
    if let Some(r) = &v.reject_reason {
        out.push_str(&format!("\nThe sender is told: 550 5.7.1 {r}\n"));
    }
    let before: Vec<String> = envelope.rcpt_to.iter().map(|r| r.to_lowercase()).collect();
    let after: Vec<String> = v.recipients.iter().map(|r| r.to_lowercase()).collect();
    out.push_str(&format!("\nRecipients: {}\n", v.recipients.join(", ")));
    let added: Vec<&String> = after.iter().filter(|r| !before.contains(r)).collect();
    let removed: Vec<&String> = before.iter().filter(|r| !after.contains(r)).collect();
    if !added.is_empty() {
        out.push_str(&format!(
            "  added (visibly, in Cc): {}\n",
            added
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !removed.is_empty() {
        out.push_str(&format!(
            "  removed: {}\n",
            removed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !v.annotations.is_empty() {
        out.push_str("Footer added to the message:\n");
        for a in &v.annotations {
            out.push_str(&format!("  | {a}\n"));
        }
    }
    for n in &v.sender_notices {
        out.push_str(&format!("The sender is told: {n}\n"));
    }
    out
}
