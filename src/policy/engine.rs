//! Evaluating the rules of a snapshot on one message.
//!
//! Pure: the envelope, the message bytes, the snapshot and a time in, a
//! [`Verdict`] out. Actions compose: reject beats hold beats deliver, and
//! copies, redirects, annotations and flags all apply (a held message keeps
//! them for when it is released).

use chrono::{DateTime, Utc};

use super::Snapshot;
use super::detectors::{self, Ctx, Rcpt};
use super::directory::{Directory, Party, PersonId, Position, Role};
use super::rules::{PartyCond, RecipientCond, RoleSel, Rule, Scope};
use super::sentences::Sentence;
use super::verdict::Verdict;
use crate::message::envelope::Envelope;
use crate::message::rewrite::{self, Changes};
use crate::message::{Analysis, View};

fn party_matches(dir: &Directory, address: &str, cond: &PartyCond) -> bool {
    let party = dir.classify(address);
    let person = match party {
        Party::Person(id) => Some(dir.person(id)),
        _ => None,
    };
    if let Some(role) = cond.role {
        let ok = match role {
            RoleSel::Any => true,
            RoleSel::Councillor => person.is_some_and(|p| p.role == Role::Councillor),
            RoleSel::Officer => person.is_some_and(|p| p.role == Role::Officer),
            RoleSel::Person => person.is_some(),
            RoleSel::CouncilMailbox => party == Party::CouncilMailbox,
            RoleSel::Council => matches!(party, Party::Person(_) | Party::CouncilMailbox),
            RoleSel::Media => party == Party::Media,
            RoleSel::External => matches!(party, Party::External | Party::Media),
        };
        if !ok {
            return false;
        }
    }
    if !cond.positions.is_empty()
        && !person.is_some_and(|p| cond.positions.iter().any(|x| p.has(*x)))
    {
        return false;
    }
    if person.is_some_and(|p| cond.not_positions.iter().any(|x| p.has(*x))) {
        return false;
    }
    if let Some(j) = cond.junior
        && person.is_some_and(|p| p.is_junior_officer()) != j
    {
        return false;
    }
    if !cond.addresses.is_empty()
        && !cond
            .addresses
            .iter()
            .any(|a| a.eq_ignore_ascii_case(address))
    {
        return false;
    }
    if !cond.domains.is_empty() {
        let d = super::directory::domain_of(address);
        if !cond
            .domains
            .iter()
            .any(|x| super::directory::domain_matches(x, d))
        {
            return false;
        }
    }
    true
}

/// Recipients (indexes) matching a condition; `None` when it fails.
fn recipient_cond(
    dir: &Directory,
    rcpts: &[Rcpt],
    sender: Option<PersonId>,
    c: &RecipientCond,
) -> Option<Vec<usize>> {
    if !c.any_of.is_empty() {
        let mut all = Vec::new();
        let mut any = false;
        for alt in &c.any_of {
            if let Some(m) = recipient_cond(dir, rcpts, sender, alt) {
                any = true;
                all.extend(m);
            }
        }
        all.sort_unstable();
        all.dedup();
        return any.then_some(all);
    }
    let party = c.party();
    let matches: Vec<usize> = rcpts
        .iter()
        .enumerate()
        .filter(|(_, r)| sender.is_none() || r.person != sender)
        .filter(|(_, r)| match c.scope {
            Scope::Any => true,
            Scope::Visible => r.visible,
            Scope::Bcc => !r.visible,
        })
        .filter(|(_, r)| party_matches(dir, &r.address, &party))
        .map(|(i, _)| i)
        .collect();
    // Count people, not addresses: two addresses of one person are one.
    let mut people: Vec<String> = matches
        .iter()
        .map(|&i| match rcpts[i].person {
            Some(p) => format!("p{p}"),
            None => rcpts[i].address.clone(),
        })
        .collect();
    people.sort();
    people.dedup();
    if c.absent {
        return matches.is_empty().then(Vec::new);
    }
    (people.len() >= c.min.unwrap_or(1)).then_some(matches)
}

fn describe(dir: &Directory, address: &str) -> String {
    match dir.classify(address) {
        Party::Person(id) => {
            let p = dir.person(id);
            let what = if p.has(Position::ProperOfficer) {
                "the Proper Officer".to_string()
            } else if p.is_junior_officer() {
                "junior officer".to_string()
            } else {
                p.role.as_str().to_string()
            };
            format!("{} <{address}> ({what})", p.name)
        }
        Party::CouncilMailbox => format!("<{address}> (council mailbox)"),
        Party::Media => format!("<{address}> (media)"),
        Party::External => format!("<{address}> (external)"),
    }
}

/// What one rule concluded.
pub(super) struct Fired<'r> {
    pub rule: &'r Rule,
    /// Indices into the recipients: whom the rule is about.
    pub targets: Vec<usize>,
    pub evidence: Vec<String>,
}

fn exempt(
    dir: &Directory,
    sender: PersonId,
    officer: PersonId,
    subject: &str,
    today: chrono::NaiveDate,
) -> bool {
    let subject = subject.to_lowercase();
    dir.exemptions.iter().any(|e| {
        e.councillor == sender
            && e.officer == officer
            && today <= e.until
            && subject.contains(&e.matter)
    })
}

struct Inputs<'a> {
    snapshot: &'a Snapshot,
    analysis: &'a Analysis<'a>,
    /// The new text split into sentences: read only once a rule that needs
    /// it has passed its structural conditions (sender, recipients,
    /// period), so mail no content rule can apply to (a resident writing
    /// to the clerk) is never split or scanned.
    sentences: &'a std::cell::OnceCell<Vec<Sentence>>,
    /// The sentences' vectors, embedded only once a detector that reads
    /// meaning finds nothing by its clause analysis.
    vectors: &'a std::cell::OnceCell<super::semantic::SentenceVectors>,
    rcpts: &'a [Rcpt],
    sender_address: &'a str,
    sender: Option<PersonId>,
    /// Whether the From claim is verified (DMARC, login, trusted network).
    verified: bool,
    today: chrono::NaiveDate,
}

impl Inputs<'_> {
    fn sentences(&self) -> &[Sentence] {
        detectors::sentences_once(self.sentences, self.analysis, &self.snapshot.lexicon)
    }
}

fn evaluate_rule<'r>(rule: &'r Rule, inp: &Inputs<'_>) -> Option<Fired<'r>> {
    let dir = &inp.snapshot.directory;
    let def = &rule.def;
    let mut evidence = Vec::new();
    if let Some(want) = def.sender_verified {
        if want != inp.verified {
            return None;
        }
        evidence.push(if inp.verified {
            "sender verified".to_string()
        } else {
            "sender not verified: no DMARC pass for the From domain, no login, not a trusted network"
                .to_string()
        });
    }
    if let Some(s) = &def.sender {
        // An unverified claim earns no exception: a rule that spares some
        // senders (`not_positions`) still applies to someone who merely
        // claims to hold that position.
        let matched = if inp.verified || s.not_positions.is_empty() {
            party_matches(dir, inp.sender_address, s)
        } else {
            let mut strict = s.clone();
            strict.not_positions.clear();
            party_matches(dir, inp.sender_address, &strict)
        };
        if !matched {
            return None;
        }
        evidence.push(format!("sender: {}", describe(dir, inp.sender_address)));
    }
    if let Some(kind) = &def.period {
        let current = dir
            .periods
            .iter()
            .find(|p| p.kind == *kind && p.start <= inp.today && inp.today <= p.end)?;
        evidence.push(format!(
            "period: {} ({} to {})",
            current.name, current.start, current.end
        ));
    }
    let mut targets: Option<Vec<usize>> = None;
    let mut first_present: Option<Vec<usize>> = None;
    for c in &def.recipients {
        let m = recipient_cond(dir, inp.rcpts, inp.sender, c)?;
        if c.absent {
            let what = match (c.positions.first(), c.role) {
                (Some(p), _) => p.as_str().to_string(),
                (None, Some(r)) => format!("{r:?}").to_lowercase(),
                _ => "matching".into(),
            };
            evidence.push(format!("no recipient is the {what}"));
            continue;
        }
        for &i in &m {
            let scope = if inp.rcpts[i].visible { "" } else { ", BCC" };
            let line = format!("recipient: {}{scope}", describe(dir, &inp.rcpts[i].address));
            if !evidence.contains(&line) {
                evidence.push(line);
            }
        }
        if c.target {
            targets
                .get_or_insert_with(Vec::new)
                .extend(m.iter().copied());
        }
        if first_present.is_none() {
            first_present = Some(m);
        }
    }
    let mut targets = targets.or(first_present).unwrap_or_default();
    // Exemptions lift the rule for the councillor–officer pairs they name.
    // Exemptions are trust: an unverified sender gets none.
    if def.exemptible
        && inp.verified
        && let Some(s) = inp.sender
        && dir.person(s).is_councillor()
    {
        let before = targets.len();
        targets.retain(|&i| match inp.rcpts[i].person {
            Some(o) => !exempt(dir, s, o, &inp.analysis.subject, inp.today),
            None => true,
        });
        if before > 0 && targets.is_empty() {
            return None;
        }
        if targets.len() < before {
            evidence.push("an exemption covers some of the officers addressed".into());
        }
    }
    let a = inp.analysis;
    if let Some(set) = &rule.subject {
        if !set.is_match(&a.subject) {
            return None;
        }
        evidence.push(format!("Subject: {}", a.subject));
    }
    if let Some(set) = &rule.body {
        let hit = inp.sentences().iter().find(|s| set.is_match(&s.text))?;
        evidence.push(hit.text.clone());
    }
    for (name, set) in &rule.headers {
        let v = a.header(name).find(|v| set.is_match(v))?;
        evidence.push(format!("{name}: {v}"));
    }
    if let Some(set) = &rule.attachment_name {
        let at = a.attachments.iter().find(|x| set.is_match(&x.name))?;
        evidence.push(format!("attachment: {}", at.name));
    }
    if let Some(set) = &rule.attachment_type {
        let at = a
            .attachments
            .iter()
            .find(|x| set.is_match(&x.content_type))?;
        evidence.push(format!("attachment: {} ({})", at.name, at.content_type));
    }
    for d in &def.detectors {
        let ctx = Ctx {
            analysis: a,
            sentences: inp.sentences,
            dir,
            lex: &inp.snapshot.lexicon,
            sender: inp.sender,
            recipients: inp.rcpts,
            targets: &targets,
            semantic: inp.snapshot.semantic.as_ref(),
            vectors: inp.vectors,
        };
        let finding = detectors::run(d, &ctx)?;
        evidence.extend(finding.evidence);
        if let Some(t) = finding.targets {
            targets = t;
        }
    }
    Some(Fired {
        rule,
        targets,
        evidence,
    })
}

/// Judges one message and applies the changes the verdict makes to it:
/// [`judge`], then [`rewrite::apply`] (the pipeline runs the two as stages
/// of their own; `check`, fixtures and tuning use this).
pub fn evaluate(
    snapshot: &Snapshot,
    envelope: &Envelope,
    raw: &[u8],
    now: DateTime<Utc>,
) -> Verdict {
    let view = View::parse(raw);
    let (mut verdict, changes) = judge(snapshot, envelope, &view, now);
    if !changes.is_empty() {
        verdict.message = Some(rewrite::apply(&view, &changes));
    }
    verdict
}

/// Whether a paragraph is boilerplate (a disclaimer) by this snapshot's
/// word lists: what the analysis sets aside from the new text.
fn disclaimer_test(snapshot: &Snapshot) -> impl Fn(&str) -> bool + '_ {
    let disclaimer = snapshot.lexicon.list("disclaimer.phrases");
    move |p: &str| disclaimer.is_match(&super::lexicon::normalise(p))
}

/// The sentences of a message's new text, as the detectors read them.
pub fn new_text_sentences(snapshot: &Snapshot, raw: &[u8]) -> Vec<Sentence> {
    let view = View::parse(raw);
    let is_disclaimer = disclaimer_test(snapshot);
    let analysis = Analysis::from_parsed(view.raw(), view.parsed(), &is_disclaimer);
    super::sentences::sentences(&analysis.text().split.new_text, &snapshot.lexicon)
}

/// Judges one parsed message: the verdict, and the changes it makes to the
/// message (footer, banner, Cc, protocol headers) for the rewrite stage.
/// Pure: no I/O, no clock but `now`.
pub fn judge(
    snapshot: &Snapshot,
    envelope: &Envelope,
    view: &View<'_>,
    now: DateTime<Utc>,
) -> (Verdict, Changes) {
    let dir = &snapshot.directory;
    // Header facts now; the body as text only if a rule that reads it
    // passes its structural conditions.
    let is_disclaimer = disclaimer_test(snapshot);
    let analysis = Analysis::from_parsed(view.raw(), view.parsed(), &is_disclaimer);
    let sentences = std::cell::OnceCell::new();
    let vectors = std::cell::OnceCell::new();
    let today = now.with_timezone(&chrono_tz::Europe::London).date_naive();

    // The author: the From header when it names a directory person, else
    // the envelope sender.
    let sender_address = analysis
        .from
        .iter()
        .find(|f| dir.person_id(f).is_some())
        .cloned()
        .unwrap_or_else(|| envelope.mail_from.to_lowercase());
    let sender = dir.person_id(&sender_address);
    let rcpts: Vec<Rcpt> = envelope
        .rcpt_to
        .iter()
        .map(|r| {
            let person = dir.person_id(r);
            let visible = analysis.is_visible(r)
                || person
                    .is_some_and(|p| analysis.visible.iter().any(|v| dir.person_id(v) == Some(p)));
            Rcpt {
                address: r.clone(),
                person,
                visible,
            }
        })
        .collect();
    let inputs = Inputs {
        snapshot,
        analysis: &analysis,
        sentences: &sentences,
        vectors: &vectors,
        rcpts: &rcpts,
        sender_address: &sender_address,
        sender,
        verified: envelope.sender_verified,
        today,
    };
    let fired: Vec<Fired<'_>> = snapshot
        .rules
        .iter()
        .filter(|r| r.def.enabled)
        .filter_map(|r| evaluate_rule(r, &inputs))
        .collect();
    let (mut verdict, changes) =
        super::compose::compose(snapshot, envelope, &analysis, &rcpts, sender, fired);
    if let Some(read) = sentences.get() {
        verdict.read_text = Some(analysis.text().split.new_text.clone());
        verdict.language = super::sentences::language(read).map(str::to_string);
    }
    verdict.meaning_read = vectors.get().is_some();
    if analysis.text_read() && analysis.text().unread > 0 {
        verdict.text_unread = Some(analysis.text().unread);
    }
    (verdict, changes)
}

#[cfg(test)]
mod tests;
