//! The judge's own tests: periods, where text is read, languages,
//! exemptions, copies and redirects, monitor mode, and the detector fixes
//! named after what they guard.
use super::*;
use crate::policy::Decision;
use crate::policy::lexicon::DEFAULT_WORDLISTS;
use crate::policy::rules::DEFAULT_RULES;

const DIRECTORY: &str = include_str!("../../../config/directory.toml");

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
    fired_to(snap, from, &[rcpt], msg, when)
}

fn fired_to(snap: &Snapshot, from: &str, rcpts: &[&str], msg: &str, when: &str) -> Vec<String> {
    let rcpts: Vec<String> = rcpts.iter().map(|r| r.to_string()).collect();
    let env = crate::tuning::check::envelope(from, &rcpts);
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

/// Whether `rule` fired on [`councillor_to_junior_officer`].
fn fires_to_junior_officer(snap: &Snapshot, body: &str, rule: &str) -> bool {
    councillor_to_junior_officer(snap, body)
        .rules
        .iter()
        .any(|r| r.id == rule)
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
    let pressure = |body: &str| fires_to_junior_officer(&snap, body, "undue-pressure");
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

fn to_three_councillors(snap: &Snapshot, body: &str) -> Vec<String> {
    let to = [
        "cllr.baker@example-tc.gov.uk",
        "cllr.patel@example-tc.gov.uk",
        "cllr.okafor@example-tc.gov.uk",
    ];
    let raw = format!(
        "From: cllr.smith@example-tc.gov.uk\r\nTo: {}\r\nSubject: Depot\r\n\r\n{body}\r\n",
        to.join(", ")
    );
    fired_to(
        snap,
        "cllr.smith@example-tc.gov.uk",
        &to,
        &raw,
        "2026-11-22T10:00:00Z",
    )
}

/// Whether criticism-not-private fired on [`to_three_councillors`].
fn criticised_to_three_councillors(snap: &Snapshot, body: &str) -> bool {
    to_three_councillors(snap, body).contains(&"criticism-not-private".to_string())
}

/// Criticism read by meaning counts only a sentence that speaks of an
/// officer — by name, by post ("our finance officer") or by a pronoun
/// after one; the same judgement of contractors, or of another body's
/// officer, is not criticism of the council's staff.
#[test]
fn criticism_by_meaning_needs_an_officer_as_its_subject() {
    let snap = snapshot();
    let criticised = |body: &str| criticised_to_three_councillors(&snap, body);
    for (body, expected) in [
        (
            "The whole depot move has been handled in an amateurish way by the officers concerned.",
            true,
        ),
        (
            "The whole depot move has been handled in an amateurish way by our facilities manager.",
            true,
        ),
        (
            "The whole depot move has been handled in an amateurish way by the contractors concerned.",
            false,
        ),
        (
            "The whole depot move has been handled in an amateurish way by the county's planning officer.",
            false,
        ),
    ] {
        assert_eq!(criticised(body), expected, "{body}");
    }
}

/// Veiled threats — gossip or the press, said as a regret — are undue
/// pressure; the same words about the weather are not.
#[test]
fn a_veiled_threat_of_gossip_or_the_press_is_undue_pressure() {
    let snap = snapshot();
    let pressure = |body: &str| fires_to_junior_officer(&snap, body, "undue-pressure");
    for (body, expected) in [
        (
            "Alex, it would be such a shame if people started saying the show was a shambles because of the office.",
            true,
        ),
        ("I'd hate for that to end up in the paper, Alex.", true),
        (
            "I'm sure you wouldn't want the chair to hear about the mix-up with the stall fees.",
            true,
        ),
        (
            "Funny how officers who cross me never seem to stay long.",
            true,
        ),
        (
            "If this goes to committee as written, don't be surprised if questions start being asked about who wrote it.",
            true,
        ),
        (
            "I'd hate to see your good name dragged through the mud over a few stalls.",
            true,
        ),
        (
            "People have long memories in this town, Alex, and I'd remember that when you write up the report.",
            true,
        ),
        (
            "It would be a shame if the show was rained off, so fingers crossed.",
            false,
        ),
        ("I'd hate for it to rain on the day.", false),
        (
            "Residents have long memories of the 2007 floods, so the sandbag store will be popular.",
            false,
        ),
        (
            "The swallows never seem to stay long at the pavilion these days.",
            false,
        ),
    ] {
        assert_eq!(pressure(body), expected, "{body}");
    }
}

/// "Keep it up and I'll …" threatens; it does not direct work. "Is there
/// any way …" asks for work as politely as "could you".
#[test]
fn a_conditional_threat_is_not_a_direction_and_is_there_any_way_is_a_request() {
    let snap = snapshot();
    let fires = |body: &str, rule: &str| fires_to_junior_officer(&snap, body, rule);
    let threat = "Keep it up and I'll have your name in front of the personnel committee, and we'll see how long you last.";
    assert!(!fires(threat, "instruction-to-staff"));
    assert!(fires(threat, "undue-pressure"));
    assert!(fires(
        "Is there any way the noticeboard by the shop could be repainted before the fete?",
        "instruction-to-staff"
    ));
}

/// "Any chance of a copy of the accounts?" asks for information; a
/// deadline said impersonally ("needs to be up by nine") directs work.
#[test]
fn a_polite_ask_for_a_copy_informs_and_an_impersonal_deadline_directs() {
    let snap = snapshot();
    let instruction = |body: &str| fires_to_junior_officer(&snap, body, "instruction-to-staff");
    assert!(!instruction(
        "Is there any chance of a copy of the show accounts before Thursday's meeting?"
    ));
    assert!(!instruction("Any chance of the figures for the hall hire?"));
    assert!(instruction(
        "Alex, the marquee needs to be up by nine on Saturday, no excuses."
    ));
    assert!(instruction("Any chance of a new bench by the pond?"));
}

/// An officer by post taking weeks to reply, or being clueless, is
/// criticism; another body taking weeks is not. Staff turning up late is
/// a staffing matter.
#[test]
fn an_office_slow_to_reply_is_criticised_and_late_staff_are_a_staffing_matter() {
    let snap = snapshot();
    let criticised = |body: &str| criticised_to_three_councillors(&snap, body);
    assert!(criticised(
        "The office has taken six weeks to reply to a simple question about a bench."
    ));
    assert!(criticised(
        "Between ourselves, Alex hasn't got a clue what he's doing with the budget."
    ));
    assert!(!criticised(
        "The clerk tells me the county took months to answer about the crossing."
    ));
    assert!(!criticised(
        "The contractor has taken six weeks to reply to a simple question about a bench."
    ));
    assert!(fires_to_junior_officer(
        &snap,
        "Alex, I've noticed Priya keeps turning up late and someone needs to have a word.",
        "staffing-matters"
    ));
}

/// Courtesies and asks for news are not directions of work: thanks or
/// apologies passed on, the writer's own lateness relayed, "would you mind
/// letting me know", "keep me in the loop".
#[test]
fn courtesies_passed_on_and_asks_for_news_are_not_instructions() {
    let snap = snapshot();
    for ordinary in [
        "Please thank the volunteers from me, they were brilliant.",
        "Please pass my apologies to the committee, I have a hospital appointment.",
        "Please let the clerk know I'll be late to the meeting.",
        "Would you mind letting me know roughly how many stalls we had this year?",
        "Do send me the date of the next events meeting when it's fixed.",
        "Please keep me in the loop on the fireworks plans.",
    ] {
        assert!(
            !fires_to_junior_officer(&snap, ordinary, "instruction-to-staff"),
            "{ordinary}"
        );
    }
    assert!(fires_to_junior_officer(
        &snap,
        "Please let the contractor know the hedge must be cut by Friday.",
        "instruction-to-staff"
    ));
}

/// An officer reporting a judgement ("Alex says the roof is in a terrible
/// state") is not judged; praise of an officer is not criticism, read by
/// clause or by meaning.
#[test]
fn a_reported_judgement_and_praise_are_not_criticism_of_the_officer() {
    let snap = snapshot();
    let criticised = |body: &str| criticised_to_three_councillors(&snap, body);
    assert!(!criticised(
        "Alex says the depot roof is in a terrible state and needs replacing."
    ));
    assert!(!criticised(
        "I thought the clerk handled a difficult public meeting very well last night."
    ));
    assert!(criticised(
        "Alex's work on the depot roof has been terrible."
    ));
    // "reports" as a noun reports nothing.
    assert!(criticised("Alex's reported figures are a shambles."));
    assert!(!criticised(
        "Alex reported that the audit of the hire company was a shambles."
    ));
}

/// "The post office" is not a post; telling a contractor to crack on and
/// send the bill commits the council.
#[test]
fn the_post_office_is_not_a_post_and_send_the_bill_commits() {
    let snap = snapshot();
    assert!(!fires_to_junior_officer(
        &snap,
        "You wouldn't believe the queue at the post office this morning.",
        "staffing-matters"
    ));
    let msg = "From: cllr.smith@example-tc.gov.uk\r\nTo: info@treeworks.example.com\r\nSubject: Oak\r\n\r\nCrack on whenever suits and send the bill to the office.\r\n";
    let ids = fired(
        &snap,
        "cllr.smith@example-tc.gov.uk",
        "info@treeworks.example.com",
        msg,
        "2026-11-22T10:00:00Z",
    );
    assert!(
        ids.contains(&"councillor-commitment".to_string()),
        "{ids:?}"
    );
}

/// A fresh probe's misses, fixed in general terms: routing work through
/// the councillor directs; patience running out and "careful what you put
/// in writing" threaten; "the events office" is an officer; staff falling
/// out or taking the council van home is a staffing matter.
#[test]
fn routing_through_me_patience_and_staff_friction_are_read() {
    let snap = snapshot();
    let fires = |body: &str, rule: &str| fires_to_junior_officer(&snap, body, rule);
    assert!(fires(
        "From now on, all hall bookings come through me before they're confirmed.",
        "instruction-to-staff"
    ));
    assert!(fires(
        "I've kept quiet about the overspend so far, Alex, but my patience has limits.",
        "undue-pressure"
    ));
    assert!(fires(
        "I'd be very careful what you put in writing to the committee, Alex.",
        "undue-pressure"
    ));
    assert!(!fires(
        "Be careful how you lift the staging, it's heavier than it looks.",
        "undue-pressure"
    ));
    assert!(!fires(
        "Be careful what you say to the press about the flood until the facts are in.",
        "undue-pressure"
    ));
    assert!(!fires(
        "I have to be back by three for the school run, so could we meet at two?",
        "instruction-to-staff"
    ));
    assert!(!fires(
        "There's been some misuse of the dog bins by the skate park, they're full of rubble.",
        "staffing-matters"
    ));
    assert!(fires(
        "I gather there's been some friction between Priya and Dafydd; what's going on?",
        "staffing-matters"
    ));
    assert!(criticised_to_three_councillors(
        &snap,
        "Yet another shambolic Christmas market courtesy of our events office."
    ));
}
