//! The labelled corpus in tests/corpus: per-rule precision and recall of the
//! shipped rules and word lists, on a council directory that is not the
//! shipped example. Fails below 0.9 on either for any rule.

use std::collections::BTreeMap;
use std::path::Path;

use councilgate::fixtures;
use councilgate::policy::Snapshot;
use councilgate::policy::lexicon::DEFAULT_WORDLISTS;
use councilgate::policy::rules::DEFAULT_RULES;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn corpus_precision_and_recall_per_rule_at_least_0_9() {
    let dir = Path::new(REPO).join("tests/corpus");
    let directory = std::fs::read_to_string(dir.join("directory.toml")).expect("corpus directory");
    let snapshot = Snapshot::compile(
        (&directory, "tests/corpus/directory.toml"),
        (DEFAULT_WORDLISTS, "config/wordlists.toml"),
        (DEFAULT_RULES, "config/rules.toml"),
    )
    .expect("policy compiles");
    let cases = fixtures::load_dir(&dir).expect("fixtures load");
    assert!(
        cases.len() >= 100,
        "the corpus has {} messages; at least 100 expected",
        cases.len()
    );

    // rule -> (true positives, false positives, false negatives)
    let mut counts: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    for r in &snapshot.rules {
        counts.insert(r.def.id.clone(), (0, 0, 0));
    }
    let mut verdicts_right = 0;
    let mut mismatches = Vec::new();
    for case in &cases {
        let outcome = fixtures::run(&snapshot, case).expect("runs");
        let want = case.expect.rules.clone().unwrap_or_default();
        let got: Vec<String> = outcome.verdict.rules.iter().map(|r| r.id.clone()).collect();
        for (id, c) in counts.iter_mut() {
            match (want.contains(id), got.contains(id)) {
                (true, true) => c.0 += 1,
                (false, true) => c.1 += 1,
                (true, false) => c.2 += 1,
                (false, false) => {}
            }
        }
        if case.expect.verdict.as_deref() == Some(outcome.verdict.decision.as_str()) {
            verdicts_right += 1;
        }
        if !outcome.diff.is_empty() {
            mismatches.push(format!(
                "{}:\n    {}",
                case.name,
                outcome.diff.join("\n    ")
            ));
        }
    }
    println!(
        "\n{} messages; verdict right on {}",
        cases.len(),
        verdicts_right
    );
    println!(
        "{:<30} {:>4} {:>4} {:>4} {:>9} {:>7}",
        "rule", "tp", "fp", "fn", "precision", "recall"
    );
    let mut failing = Vec::new();
    for (id, (tp, fp, fnn)) in &counts {
        let precision = if tp + fp == 0 {
            1.0
        } else {
            *tp as f64 / (tp + fp) as f64
        };
        let recall = if tp + fnn == 0 {
            1.0
        } else {
            *tp as f64 / (tp + fnn) as f64
        };
        println!("{id:<30} {tp:>4} {fp:>4} {fnn:>4} {precision:>9.3} {recall:>7.3}");
        if *tp == 0 {
            failing.push(format!("{id}: no positive example in the corpus"));
        }
        if precision < 0.9 || recall < 0.9 {
            failing.push(format!(
                "{id}: precision {precision:.3}, recall {recall:.3}"
            ));
        }
    }
    if !mismatches.is_empty() {
        println!("\nMismatches:\n{}", mismatches.join("\n"));
    }
    assert!(failing.is_empty(), "below 0.9: {failing:?}");
}
