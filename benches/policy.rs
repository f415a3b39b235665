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

criterion_group!(benches, bench);
criterion_main!(benches);
