//! Runs all default rules on a 10 KB reply in a loop, for a profiler:
//! `cargo build --release --example profile_policy && perf record target/release/examples/profile_policy`.
//! `profile_policy N FILE` runs them on a message of your own instead;
//! `profile_policy N FILE FROM TO…` with an envelope of your own (e.g. a
//! resident writing to the clerk, which no content rule applies to).

use std::path::Path;

fn main() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let snapshot = councilgate::policy::Snapshot::load(&config).expect("shipped policy");
    let args: Vec<String> = std::env::args().collect();
    let env = match args.get(3) {
        Some(from) => councilgate::tuning::check::envelope(from, &args[4..]),
        None => councilgate::tuning::check::envelope(
            "cllr.smith@example-tc.gov.uk",
            &["alex.green@example-tc.gov.uk".into()],
        ),
    };
    let mut m = String::from(
        "From: Jane Smith <cllr.smith@example-tc.gov.uk>\r\nTo: Alex Green <alex.green@example-tc.gov.uk>\r\nSubject: Re: Pavilion\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Alex,\r\n\r\nCould you get the pavilion chairs stacked before Saturday?\r\n\r\nThanks,\r\nJane\r\n\r\nOn Mon, 16 Nov 2026 at 09:12, Alex Green <alex.green@example-tc.gov.uk> wrote:\r\n",
    );
    while m.len() < 10 * 1024 {
        m.push_str("> Could you let me know how many bookings we have for the hall in December? I need the figures.\r\n>\r\n");
    }
    let raw = match std::env::args().nth(2) {
        Some(path) => std::fs::read(&path).expect("message file"),
        None => m.into_bytes(),
    };
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let now = chrono::Utc::now();
    let mut fired = 0;
    for _ in 0..n {
        fired += snapshot.evaluate(&env, &raw, now).rules.len();
    }
    println!("{fired}");
}
