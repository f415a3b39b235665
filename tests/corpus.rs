//! The labelled corpus in tests/corpus: per-rule precision and recall of the
//! shipped rules and word lists, on a council directory that is not the
//! shipped example. Fails below 0.9 on either for any rule. tests/holdout
//! holds messages written after the detectors, as a check that they
//! generalise.

use std::collections::BTreeMap;
use std::path::Path;

use councilgate::policy::Snapshot;
use councilgate::policy::lexicon::DEFAULT_WORDLISTS;
use councilgate::policy::rules::DEFAULT_RULES;
use councilgate::tuning::fixtures;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

struct Score {
    precision: f64,
    recall: f64,
    positives: u32,
}

/// Evaluates every fixture in `folder`; prints the per-rule table and the
/// mismatches.
fn measure(folder: &str) -> (BTreeMap<String, Score>, usize) {
    let directory = std::fs::read_to_string(Path::new(REPO).join("tests/corpus/directory.toml"))
        .expect("corpus directory");
    let snapshot = Snapshot::compile(
        (&directory, "tests/corpus/directory.toml"),
        (DEFAULT_WORDLISTS, "config/wordlists.toml"),
        (DEFAULT_RULES, "config/rules.toml"),
    )
    .expect("policy compiles");
    let cases = fixtures::load_dir(&Path::new(REPO).join(folder)).expect("fixtures load");
    // rule -> (true positives, false positives, false negatives)
    let mut counts: BTreeMap<String, (u32, u32, u32)> = snapshot
        .rules
        .iter()
        .map(|r| (r.def.id.clone(), (0, 0, 0)))
        .collect();
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
        "\n{folder}: {} messages; verdict right on {verdicts_right}",
        cases.len()
    );
    println!(
        "{:<30} {:>4} {:>4} {:>4} {:>9} {:>7}",
        "rule", "tp", "fp", "fn", "precision", "recall"
    );
    let mut scores = BTreeMap::new();
    for (id, (tp, fp, fnn)) in counts {
        let precision = if tp + fp == 0 {
            1.0
        } else {
            tp as f64 / (tp + fp) as f64
        };
        let recall = if tp + fnn == 0 {
            1.0
        } else {
            tp as f64 / (tp + fnn) as f64
        };
        println!("{id:<30} {tp:>4} {fp:>4} {fnn:>4} {precision:>9.3} {recall:>7.3}");
        scores.insert(
            id,
            Score {
                precision,
                recall,
                positives: tp + fnn,
            },
        );
    }
    if !mismatches.is_empty() {
        println!("\nMismatches:\n{}", mismatches.join("\n"));
    }
    (scores, cases.len())
}

#[test]
fn corpus_precision_and_recall_per_rule_at_least_0_9() {
    let (scores, n) = measure("tests/corpus");
    assert!(
        n >= 100,
        "the corpus has {n} messages; at least 100 expected"
    );
    let mut failing = Vec::new();
    for (id, s) in &scores {
        if s.positives == 0 {
            failing.push(format!("{id}: no positive example in the corpus"));
        }
        if s.precision < 0.9 || s.recall < 0.9 {
            failing.push(format!(
                "{id}: precision {:.3}, recall {:.3}",
                s.precision, s.recall
            ));
        }
    }
    assert!(failing.is_empty(), "below 0.9: {failing:?}");
}

/// Macro F1 over the rules with positives in a set.
fn macro_f1(folder: &str) -> f64 {
    let (scores, _) = measure(folder);
    let f1: Vec<f64> = scores
        .values()
        .filter(|s| s.positives > 0)
        .map(|s| {
            if s.precision + s.recall == 0.0 {
                0.0
            } else {
                2.0 * s.precision * s.recall / (s.precision + s.recall)
            }
        })
        .collect();
    let m = f1.iter().sum::<f64>() / f1.len().max(1) as f64;
    println!("{folder}: macro F1 {m:.3}");
    m
}

/// Messages written after the detectors (first measured at 0.772 before the
/// fixes they prompted; see README).
#[test]
fn holdout_macro_f1_at_least_0_85() {
    let m = macro_f1("tests/holdout");
    assert!(m >= 0.85, "held-out macro F1 {m:.3}");
}

/// A second held-out set (first measured at 0.784).
#[test]
fn holdout2_macro_f1_at_least_0_85() {
    let m = macro_f1("tests/holdout2");
    assert!(m >= 0.85, "second held-out macro F1 {m:.3}");
}

/// A third held-out set (first measured before any change it could
/// inform; see README).
#[test]
fn holdout3_macro_f1_at_least_0_85() {
    let m = macro_f1("tests/holdout3");
    assert!(m >= 0.85, "third held-out macro F1 {m:.3}");
}
