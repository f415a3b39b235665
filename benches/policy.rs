//! All default rules on one message: parse, analysis, every rule, rewrite.
//! `cargo bench --bench policy`; medians are recorded in the README.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use councilgate::policy::Snapshot;
use councilgate::tuning::check::envelope;

const PARAGRAPHS: &[&str] = &[
    "Thanks for the update on the pavilion roof. The contractor says the slates will arrive next week, weather permitting.",
    "Could you let me know how many bookings we have for the hall in December? I need the figures for the finance committee.",
    "The residents on Mill Lane have asked again about the streetlight outside number 22, which has been out since October.",
    "I have attached the minutes of the last meeting; please check the wording of item 7 before they are published.",
    "The allotment society would like to hold their AGM in the small room on the 14th if it is free that evening.",
    "Highways have confirmed the road closure for the Remembrance parade, from 10am to 12 noon on Church Street.",
];

/// A reply of about `size` bytes: new text at the top, a long quoted thread
/// below, a disclaimer at the foot.
fn message(size: usize) -> Vec<u8> {
    let mut m = String::from(
        "From: Jane Smith <cllr.smith@example-tc.gov.uk>\r\nTo: Alex Green <alex.green@example-tc.gov.uk>\r\nSubject: Re: Pavilion and hall bookings\r\nMessage-ID: <bench@test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHi Alex,\r\n\r\nCould you get the pavilion chairs stacked before Saturday? The noticeboard comes before the bins this week.\r\n\r\nThanks,\r\nJane\r\n\r\nOn Mon, 16 Nov 2026 at 09:12, Alex Green <alex.green@example-tc.gov.uk> wrote:\r\n",
    );
    let mut i = 0;
    while m.len() < size.saturating_sub(400) {
        m.push_str("> ");
        m.push_str(PARAGRAPHS[i % PARAGRAPHS.len()]);
        m.push_str("\r\n>\r\n");
        i += 1;
    }
    m.push_str("\r\nThis email and any attachments are confidential and intended solely for the addressee. If you have received this email in error please notify the sender.\r\n");
    m.into_bytes()
}

fn bench(c: &mut Criterion) {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let snapshot = Snapshot::load(&config).expect("shipped policy");
    let env = envelope(
        "cllr.smith@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk".into()],
    );
    let now = chrono::Utc::now();
    let mut group = c.benchmark_group("all_default_rules");
    for (name, size) in [
        ("10KB", 10 * 1024),
        ("100KB", 100 * 1024),
        ("1MB", 1024 * 1024),
    ] {
        let raw = message(size);
        // Sanity: the rules really run (instruction, copies) on this message.
        let v = snapshot.evaluate(&env, &raw, now);
        assert!(v.rules.iter().any(|r| r.id == "instruction-to-staff"));
        group.throughput(Throughput::Bytes(raw.len() as u64));
        if size >= 1024 * 1024 {
            group.sample_size(20);
        }
        group.bench_function(name, |b| {
            b.iter(|| snapshot.evaluate(black_box(&env), black_box(&raw), now))
        });
    }
    group.finish();
}

/// A councillor's message of ten sentences of new text to a junior
/// officer: every content rule's structure holds, no clause analysis
/// fires, so every detector reads meaning.
const TEN_SENTENCES: &str = "From: Jane Smith <cllr.smith@example-tc.gov.uk>\r\nTo: Alex Green <alex.green@example-tc.gov.uk>\r\nSubject: The pavilion\r\nMessage-ID: <bench-semantic@test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Alex,\r\n\r\nI walked past the pavilion on Sunday afternoon with the grandchildren. The roof looks much better since the slates went on. The cricket club were out on the square and seemed pleased with it. One of them mentioned that the showers are still running cold. I gather the boiler was serviced in September. The car park was full, which is good to see on a Sunday. A resident stopped me about the hedge by the gate. She thinks it is blocking the view of the road. I said I would pass it on. It has been a busy few weeks for everyone.\r\n\r\nBest wishes,\r\nJane\r\n";

fn bench_semantic(c: &mut Criterion) {
    use councilgate::policy::semantic::Model;
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let snapshot = Snapshot::load(&config).expect("shipped policy");
    let model = Model::load().expect("the bundled encoder loads");
    let now = chrono::Utc::now();
    let mut group = c.benchmark_group("semantic");
    group.bench_function("encoder_one_sentence", |b| {
        b.iter(|| {
            model
                .embed(black_box(&[
                    "A resident stopped me about the hedge by the gate.",
                ]))
                .expect("embeds")
        })
    });
    let to_junior = envelope(
        "cllr.smith@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk".into()],
    );
    let raw = TEN_SENTENCES.as_bytes();
    let v = snapshot.evaluate(&to_junior, raw, now);
    assert!(
        !v.rules.iter().any(|r| r.action == "hold"),
        "the ten-sentence message is ordinary: {:?}",
        v.rules
    );
    group.bench_function("councillor_to_junior_officer_10_sentences", |b| {
        b.iter(|| snapshot.evaluate(black_box(&to_junior), black_box(raw), now))
    });
    let resident = envelope("resident@example.org", &["clerk@example-tc.gov.uk".into()]);
    let raw = String::from_utf8(message(10 * 1024))
        .expect("utf8")
        .replace(
            "From: Jane Smith <cllr.smith@example-tc.gov.uk>",
            "From: Pat Jones <resident@example.org>",
        )
        .into_bytes();
    let v = snapshot.evaluate(&resident, &raw, now);
    assert!(!v.meaning_read, "the encoder never runs for a resident");
    group.bench_function("resident_to_clerk_10KB", |b| {
        b.iter(|| snapshot.evaluate(black_box(&resident), black_box(&raw), now))
    });
    group.finish();
}

criterion_group!(benches, bench, bench_semantic);
criterion_main!(benches);
