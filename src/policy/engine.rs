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
mod tests {
    use super::*;
    use crate::policy::Decision;
    use crate::policy::lexicon::DEFAULT_WORDLISTS;
    use crate::policy::rules::DEFAULT_RULES;

    const DIRECTORY: &str = include_str!("../../config/directory.toml");

    fn snapshot() -> Snapshot {
        Snapshot::compile(
            (DIRECTORY, "d"),
            (DEFAULT_WORDLISTS, "w"),
            (DEFAULT_RULES, "r"),
        )
        .expect("compiles")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn fired(snap: &Snapshot, from: &str, rcpt: &str, msg: &str, when: &str) -> Vec<String> {
        let env = crate::tuning::check::envelope(from, &[rcpt.to_string()]);
        snap.evaluate(&env, msg.as_bytes(), at(when))
            .rules
            .into_iter()
            .map(|r| r.id)
            .collect()
    }

    #[test]
    fn pre_election_period_is_inclusive_in_uk_local_time() {
        let snap = snapshot();
        let msg = "From: cllr.smith@example-tc.gov.uk\r\nTo: clerk@example-tc.gov.uk\r\nSubject: Skate park\r\n\r\nClara, could we put out a press release about the skate park with a photo of me?\r\n";
        let run = |when| {
            fired(
                &snap,
                "cllr.smith@example-tc.gov.uk",
                "clerk@example-tc.gov.uk",
                msg,
                when,
            )
        };
        // 23:30 BST on 6 May (22:30 UTC): the last day, inside.
        assert!(run("2027-05-06T22:30:00Z").contains(&"pre-election-publicity".to_string()));
        // 00:30 BST on 7 May (23:30 UTC on the 6th): outside, though UTC says the 6th.
        assert!(!run("2027-05-06T23:30:00Z").contains(&"pre-election-publicity".to_string()));
        // 00:05 GMT on 22 March: the first day, inside.
        assert!(run("2027-03-22T00:05:00Z").contains(&"pre-election-publicity".to_string()));
        assert!(!run("2027-03-21T23:55:00Z").contains(&"pre-election-publicity".to_string()));
    }

    /// RULES-NOTES: pre-election publicity is a council channel featuring a
    /// councillor or a party; the council's own service publicity during
    /// the period is not.
    #[test]
    fn service_publicity_in_the_period_is_not_a_councillor_s_publicity() {
        let snap = snapshot();
        let run = |body: &str| {
            let msg = format!(
                "From: cllr.smith@example-tc.gov.uk\r\nTo: clerk@example-tc.gov.uk\r\nSubject: Facebook\r\n\r\n{body}\r\n"
            );
            fired(
                &snap,
                "cllr.smith@example-tc.gov.uk",
                "clerk@example-tc.gov.uk",
                &msg,
                "2027-04-12T10:00:00Z",
            )
            .contains(&"pre-election-publicity".to_string())
        };
        assert!(!run(
            "Clara, could we put a post on Facebook reminding people the green waste collections restart next Saturday? Lots of people asking."
        ));
        assert!(run(
            "Clara, could we put a post on Facebook about the green waste collections, with a photo of me at the depot?"
        ));
        assert!(run(
            "Clara, can we get a photographer to the playground reopening and use the pictures on the website? I'll be there to open it."
        ));
        assert!(run(
            "Clara, could the newsletter carry a piece on what the Independent group has delivered this term?"
        ));
    }

    #[test]
    fn text_is_read_only_when_a_content_rule_could_apply() {
        let snap = snapshot();
        let judge = |from: &str, to: &str, body: &str| {
            let raw = format!("From: {from}\r\nTo: {to}\r\nSubject: x\r\n\r\n{body}\r\n");
            let env = crate::tuning::check::envelope(from, &[to.to_string()]);
            snap.evaluate(&env, raw.as_bytes(), at("2026-11-22T10:00:00Z"))
        };
        // A resident to the clerk: no content rule's sender condition holds.
        let resident = judge(
            "resident@example.org",
            "clerk@example-tc.gov.uk",
            "I need you to fix the pothole by Friday or I will go to the paper.",
        );
        assert!(!resident.text_read());
        // A councillor to a junior officer: the instruction rule reads it.
        let councillor = judge(
            "cllr.smith@example-tc.gov.uk",
            "alex.green@example-tc.gov.uk",
            "Alex, please strim plot 4 on Friday.",
        );
        assert!(councillor.text_read());
    }

    /// A councillor's message to a junior officer, with `body` as its text.
    fn councillor_to_junior_officer(snap: &Snapshot, body: &str) -> Verdict {
        let raw = format!(
            "From: cllr.smith@example-tc.gov.uk\r\nTo: alex.green@example-tc.gov.uk\r\nSubject: Minutes\r\n\r\n{body}\r\n"
        );
        let env = crate::tuning::check::envelope(
            "cllr.smith@example-tc.gov.uk",
            &["alex.green@example-tc.gov.uk".to_string()],
        );
        snap.evaluate(&env, raw.as_bytes(), at("2026-11-22T10:00:00Z"))
    }

    /// The content rules read a long part up to `TEXT_PER_PART`; the verdict
    /// says how much they did not read.
    #[test]
    fn a_long_part_is_read_up_to_its_limit_and_the_verdict_says_how_much_was_not() {
        let snap = snapshot();
        let judge = |body: &str| councillor_to_junior_officer(&snap, body);
        let filler = "The committee noted the report on the allotments.\r\n"
            .repeat(crate::message::analysis::TEXT_PER_PART / 50 + 100);
        let ask = "Alex, please strim plot 4 on Friday.";
        let early = judge(&format!("{ask}\r\n\r\n{filler}"));
        assert!(early.rules.iter().any(|r| r.id == "instruction-to-staff"));
        let unread = early.text_unread.expect("some text unread");
        assert!(unread > 4000 && unread < 10_000, "{unread}");
        let late = judge(&format!("{filler}\r\n{ask}"));
        assert!(late.rules.iter().all(|r| r.id != "instruction-to-staff"));
        assert!(late.text_unread.is_some());
        let short = judge(ask);
        assert_eq!(short.text_unread, None);
    }

    /// Abuse is aimed at the reader and a threat is made to the reader: a
    /// writer running themselves down ("we're hopeless at it") or asking
    /// about someone else ("is Priya on a final warning?") is not undue
    /// pressure; the same words said to the officer are.
    #[test]
    fn self_deprecation_and_a_question_about_another_are_not_undue_pressure() {
        let snap = snapshot();
        let pressure = |body: &str| {
            councillor_to_junior_officer(&snap, body)
                .rules
                .iter()
                .any(|r| r.id == "undue-pressure")
        };
        assert!(!pressure(
            "Alex, if you're around could you sit in and take a few notes for us - we're hopeless at it."
        ));
        assert!(!pressure(
            "I'm hopeless with spreadsheets, so thank you for doing the figures."
        ));
        assert!(!pressure("Alex, is Priya on a final warning or what?"));
        assert!(pressure("Alex, you're hopeless at taking notes."));
        assert!(pressure("Frankly, you are useless."));
        assert!(pressure(
            "Alex, you're on a final warning as far as I'm concerned."
        ));
        assert!(pressure("Do you want a final warning?"));
    }

    /// RULES-NOTES: when staffing-matters redirects a message away from a
    /// junior officer and keep-manager-informed also fires, the officer's
    /// manager is still copied, visibly — staffing matters are for the
    /// relevant managers (protocol 001 §1.09).
    #[test]
    fn a_staffing_redirect_still_copies_the_junior_officer_s_manager() {
        let snap = snapshot();
        let v = councillor_to_junior_officer(
            &snap,
            "Alex,\r\n\r\nI've had a complaint about the caretaker's timekeeping - he was late opening the hall three times last week.\r\n\r\nJane",
        );
        let ids: Vec<&str> = v.rules.iter().map(|r| r.id.as_str()).collect();
        assert!(ids.contains(&"staffing-matters"), "{ids:?}");
        assert!(ids.contains(&"keep-manager-informed"), "{ids:?}");
        assert_eq!(
            v.recipients,
            vec!["clerk@example-tc.gov.uk", "deputy.clerk@example-tc.gov.uk"],
            "the junior officer removed; the Proper Officer and his manager, Dafydd Rees, receive it"
        );
        assert!(
            v.annotations
                .iter()
                .any(|a| a.contains("Dafydd Rees has been copied in")),
            "{:?}",
            v.annotations
        );
    }

    /// Welsh councils write bilingually: the verdict marks a new text that
    /// is mostly Welsh ("cy") or partly ("cy+en"); Welsh sentences are not
    /// read for meaning.
    #[test]
    fn welsh_new_text_is_marked_with_its_language() {
        let snap = snapshot();
        let judge = |body: &str| councillor_to_junior_officer(&snap, body);
        let welsh = "Mae'r cyngor wedi penderfynu ar y gwaith newydd yn y parc. Byddwn yn cael cyfarfod gyda'r pwyllgor ddydd Llun.";
        let english = "The council has decided on the new work in the park. We will have a meeting with the committee on Monday.";
        assert_eq!(judge(welsh).language.as_deref(), Some("cy"));
        assert_eq!(
            judge(&format!("{welsh}\r\n\r\n{english}"))
                .language
                .as_deref(),
            Some("cy+en")
        );
        assert_eq!(judge(english).language, None);
        let lex = &snap.lexicon;
        let read = crate::policy::sentences::sentences(welsh, lex);
        assert!(read.iter().all(|s| s.welsh), "{read:?}");
        if let Some(semantic) = snap.semantic.as_ref() {
            assert!(semantic.embed_sentences(&read).iter().all(Option::is_none));
        }
    }

    #[test]
    fn exemption_lifts_route_and_instruction_until_its_last_day_only() {
        let snap = snapshot();
        let msg = "From: cllr.smith@example-tc.gov.uk\r\nTo: alex.green@example-tc.gov.uk\r\nSubject: Allotments: plot 4\r\n\r\nAlex, please strim plot 4 on Friday.\r\n";
        let run = |when| {
            fired(
                &snap,
                "cllr.smith@example-tc.gov.uk",
                "alex.green@example-tc.gov.uk",
                msg,
                when,
            )
        };
        let inside = run("2027-06-30T22:00:00Z"); // 23:00 BST on 30 June
        assert!(
            !inside.contains(&"route-via-proper-officer".to_string()),
            "{inside:?}"
        );
        assert!(
            !inside.contains(&"instruction-to-staff".to_string()),
            "{inside:?}"
        );
        assert!(
            inside.contains(&"keep-manager-informed".to_string()),
            "exemptions lift only two rules: {inside:?}"
        );
        let after = run("2027-06-30T23:30:00Z"); // 00:30 BST on 1 July
        assert!(
            after.contains(&"instruction-to-staff".to_string()),
            "{after:?}"
        );
        assert!(
            after.contains(&"route-via-proper-officer".to_string()),
            "{after:?}"
        );
    }

    #[test]
    fn bcc_proper_officer_is_a_recipient_and_bcc_newsroom_is_media() {
        let snap = snapshot();
        let env = crate::tuning::check::envelope(
            "cllr.baker@example-tc.gov.uk",
            &[
                "alex.green@example-tc.gov.uk".into(),
                "clerk@example-tc.gov.uk".into(),
                "news@localpaper.co.uk".into(),
            ],
        );
        let msg = "From: cllr.baker@example-tc.gov.uk\r\nTo: alex.green@example-tc.gov.uk\r\nSubject: Thanks\r\n\r\nThanks Alex, that was helpful.\r\n";
        let v = snap.evaluate(&env, msg.as_bytes(), at("2026-11-22T10:00:00Z"));
        let ids: Vec<&str> = v.rules.iter().map(|r| r.id.as_str()).collect();
        assert!(
            !ids.contains(&"route-via-proper-officer"),
            "a BCC'd Proper Officer is a recipient: {ids:?}"
        );
        assert!(ids.contains(&"press-contact"), "{ids:?}");
        // press-contact fires though the Proper Officer is already there: nothing added.
        assert!(
            !v.annotations
                .iter()
                .any(|a| a.contains("Clara Hughes has been copied")),
            "{:?}",
            v.annotations
        );
    }

    #[test]
    fn monitor_mode_records_without_acting() {
        let rules = DEFAULT_RULES.replace(
            "id = \"instruction-to-staff\"\n",
            "id = \"instruction-to-staff\"\nmode = \"monitor\"\n",
        );
        let snap = Snapshot::compile((DIRECTORY, "d"), (DEFAULT_WORDLISTS, "w"), (&rules, "r"))
            .expect("compiles");
        let env = crate::tuning::check::envelope(
            "cllr.smith@example-tc.gov.uk",
            &[
                "alex.green@example-tc.gov.uk".into(),
                "clerk@example-tc.gov.uk".into(),
                "deputy.clerk@example-tc.gov.uk".into(),
            ],
        );
        let msg = "From: cllr.smith@example-tc.gov.uk\r\nTo: alex.green@example-tc.gov.uk\r\nCc: clerk@example-tc.gov.uk, deputy.clerk@example-tc.gov.uk\r\nSubject: Bins\r\n\r\nAlex, empty the bins today.\r\n";
        let v = snap.evaluate(&env, msg.as_bytes(), at("2026-11-22T10:00:00Z"));
        assert_eq!(v.decision, Decision::Deliver);
        assert_eq!(v.rules[0].action, "monitor (hold)");
        let out = String::from_utf8(v.message.expect("header added")).expect("utf8");
        assert!(
            out.starts_with("X-Council-Protocol-Monitor: instruction-to-staff\r\n"),
            "{out}"
        );
    }
}
