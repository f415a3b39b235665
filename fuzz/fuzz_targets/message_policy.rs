//! Message analysis and rewriting: arbitrary bytes as a message through the
//! whole policy evaluation (parse, new text, detectors, rules, MIME
//! rewrite), as from an unverified sender so the banner and footers are
//! spliced in. Must never panic; a rewritten message must keep the
//! original's bytes it did not mean to change: it parses again, and its
//! header section still ends where a header section ends.
#![no_main]

use std::sync::OnceLock;

use councilgate::message::rewrite::{Changes, apply};
use councilgate::policy::Snapshot;
use libfuzzer_sys::fuzz_target;

/// The shipped policy, with the meaning reading on or off. Under the fuzzer's
/// instrumentation the sentence encoder takes seconds a message, so only
/// inputs whose length is a multiple of eight are read for meaning (the
/// choice is the input's, so a finding reproduces); the rest run the word
/// lists, clause analysis, rules and rewrite at full speed.
fn snapshot(semantic: bool) -> &'static Snapshot {
    static ON: OnceLock<Snapshot> = OnceLock::new();
    static OFF: OnceLock<Snapshot> = OnceLock::new();
    let (cell, mode) = if semantic {
        (&ON, councilgate::policy::semantic::Mode::On)
    } else {
        (&OFF, councilgate::policy::semantic::Mode::Off)
    };
    cell.get_or_init(|| {
        Snapshot::load_with(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config")),
            &councilgate::policy::semantic::Options {
                mode,
                cache_dir: None,
            },
        )
        .expect("shipped policy")
    })
}

fuzz_target!(|data: &[u8]| {
    let snap = snapshot(data.len() % 8 == 0);
    let raw = councilgate::message::crlf(data);
    let rcpts = vec![
        "alex.green@example-tc.gov.uk".to_string(),
        "cllr.baker@example-tc.gov.uk".to_string(),
        "editor@localpaper.co.uk".to_string(),
    ];
    for from in ["cllr.smith@example-tc.gov.uk", "clerk@example-tc.gov.uk"] {
        let envelope = councilgate::tuning::check::unverified(councilgate::tuning::check::envelope(from, &rcpts));
        let at = chrono::DateTime::parse_from_rfc3339("2027-04-14T10:00:00+01:00")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let verdict = snap.evaluate(&envelope, &raw, at);
        if let Some(out) = &verdict.message {
            assert!(
                out.len() >= raw.len() / 2,
                "rewrite lost most of the message"
            );
        }
    }
    let changes = Changes {
        headers: vec![("X-Council-Protocol".into(), "fuzz".into())],
        cc: vec![("Clara Hughes".into(), "clerk@example-tc.gov.uk".into())],
        footer: vec!["CC councillor Siân Llewellyn".into()],
        banner: vec!["CAUTION: not verified".into()],
    };
    let out = apply(&councilgate::message::View::parse(&raw), &changes);
    assert!(out.starts_with(b"X-Council-Protocol: fuzz\r\n"));
    assert!(
        mail_parser::MessageParser::default().parse(&out).is_some() || raw.is_empty(),
        "a rewritten message no longer parses"
    );
    let stripped = councilgate::pipeline::sender_auth::strip_forged_results(&raw, "fuzz.test");
    assert!(stripped.len() <= raw.len());
});
