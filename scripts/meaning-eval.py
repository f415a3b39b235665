#!/usr/bin/env python3
"""How well the meaning reading alone tells breaches from ordinary mail, with the examples that were
written from a message set aside while that message is scored.

usage: scripts/meaning-eval.py --dump DUMP.json [DUMP.json ...] [--examples config/examples.toml]
                               [--vectors target/release/examples/sentence_vectors] [--config config]
                               [--near 0.85] [--kind nearest|knn3]

Why: the shipped examples were written from the protocols and, in part, with the development mail in
view, so a corpus figure flatters them — a breach whose sentence was copied into the examples is found
by copy, not by meaning. This script scores each message against the examples **less every example at
least --near similar to one of that message's sentences** (the near-copies), so what is left measures
the reading on phrasing it has not seen.

Input: the per-case readings that `scripts/calibrate-semantic.py --dump FILE` writes (which rules'
structural conditions held, which the clause analysis fired, and the expected rules). For every case
and content rule that its structure lets read (the clause analysis fired, a sentence was read for
meaning, or the rule is expected), the message's score is councilgate's (`src/policy/semantic/head.rs`):
the best sentence's similarity to its nearest positive example when that is nearer than every negative
and `[ordinary]` example. Positives are all expected (case, rule) pairs, whether or not the clause
analysis also found them; negatives are the rest. Per rule it prints the area under the ROC curve and
the share of positives scoring above every negative (recall at no false alarm), and pooled figures.
Then it reads the messages no content rule is expected for as if every rule's structure held (every
sentence, nothing set aside) and prints each detector's highest score and how many reach the threshold
of rules.toml: a bound on false alarms for ordinary mail of the kind a content rule does read.

Vectors come from the gateway's own encoder through the example program `sentence_vectors`
(`cargo build --release --example sentence_vectors`). Needs numpy.
"""
import argparse, json, os, subprocess, sys, tomllib

import numpy as np

DETECTOR_OF = {
    "instruction-to-staff": "instruction", "party-political-work": "party-political",
    "undue-pressure": "undue-pressure", "criticism-not-private": "criticism",
    "councillor-commitment": "commitment", "staffing-matters": "staffing",
    "employment-lobbying": "own-employment", "pre-election-publicity": "publicity-request",
}


def vectors_of_texts(prog, texts):
    p = subprocess.run([prog, "-"], input="\n".join(texts) + "\n", capture_output=True, text=True,
                       check=True)
    out = {}
    for line in p.stdout.splitlines():
        o = json.loads(line)
        out[o["text"]] = np.array(o["v"], dtype=np.float32)
    return out


def vectors_of_files(prog, config, files):
    p = subprocess.run([prog, config] + files, capture_output=True, text=True, check=True)
    out = {}
    for line in p.stdout.splitlines():
        o = json.loads(line)
        out[o["file"]] = np.array([s["v"] for s in o["sentences"]], dtype=np.float32).reshape(-1, 384)
    return out


def message_score(kind, P, N, S):
    """The best sentence's score: similarity to the nearest positive when it beats every negative."""
    if len(S) == 0 or len(P) == 0:
        return -1.0
    ps = np.sort(P @ S.T, axis=0)[::-1]
    ns = np.sort(N @ S.T, axis=0)[::-1] if len(N) else np.full((1, len(S)), -1.0)
    if kind == "knn3":
        return float((ps[:3].mean(0) - 0.5 * ns[:3].mean(0)).max())
    return float(np.where(ps[0] > ns[0], ps[0], -1.0).max())


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", nargs="+", required=True)
    ap.add_argument("--examples", default=os.path.join(repo, "config/examples.toml"))
    ap.add_argument("--vectors", default=os.path.join(repo, "target/release/examples/sentence_vectors"))
    ap.add_argument("--config", default=os.path.join(repo, "config"))
    ap.add_argument("--near", type=float, default=0.85)
    ap.add_argument("--kind", default="nearest", choices=["nearest", "knn3"])
    args = ap.parse_args()

    ex = tomllib.load(open(args.examples, "rb"))
    texts = sorted({t for sec in ex.values() for xs in sec.values() for t in xs})
    V = vectors_of_texts(args.vectors, texts)
    ordinary = [V[t] for t in ex.get("ordinary", {}).get("negative", [])]
    heads = {}
    for det in DETECTOR_OF.values():
        sec = ex.get(det, {})
        P = np.array([V[t] for t in sec.get("positive", [])], dtype=np.float32).reshape(-1, 384)
        N = np.array([V[t] for t in sec.get("negative", [])] + ordinary, dtype=np.float32).reshape(-1, 384)
        heads[det] = (P, N)

    readings = []
    for d in args.dump:
        readings += json.load(open(d))
    files = sorted({os.path.abspath(r["case"]) for r in readings})
    S = vectors_of_files(args.vectors, args.config, files)

    by_rule = {rule: ([], []) for rule in DETECTOR_OF}
    for r in readings:
        if not (r["clause"] or r["score"] is not None or r["expected"]):
            continue  # the rule's structure does not let it read this message
        sv = S.get(os.path.abspath(r["case"]), np.zeros((0, 384), dtype=np.float32))
        P, N = heads[DETECTOR_OF[r["rule"]]]
        if len(sv):
            P = P[(P @ sv.T).max(1) < args.near]
            N = N[(N @ sv.T).max(1) < args.near] if len(N) else N
        s = message_score(args.kind, P, N, sv)
        by_rule[r["rule"]][0 if r["expected"] else 1].append(s)

    print(f"meaning alone, examples at least {args.near} similar to the message's sentences set aside; "
          f"rule: positives/negatives, ROC area, recall above every negative")
    aucs, found, total = [], 0, 0
    for rule, (pos, neg) in by_rule.items():
        if not pos:
            continue
        auc = float(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])) if neg else 1.0
        top = max(neg) if neg else -1.0
        hit = sum(p > top for p in pos)
        aucs.append(auc)
        found += hit
        total += len(pos)
        print(f"  {rule:<26} {len(pos):>3}/{len(neg):<3}  ROC {auc:.3f}  recall {hit / len(pos):.2f}"
              f"  (every negative below {top:.2f})")
    print(f"mean ROC {np.mean(aucs):.3f}; positives above every negative {found}/{total}")

    # Ordinary mail read as if every rule's structure held: messages with no content rule expected,
    # every sentence, no near-copies set aside (ordinary sentences are not in the examples' source).
    rules_toml = tomllib.load(open(os.path.join(args.config, "rules.toml"), "rb"))
    thresholds = rules_toml.get("semantic", {}).get("thresholds", {})
    expected = {}
    for r in readings:
        f = os.path.abspath(r["case"])
        expected[f] = expected.get(f, False) or r["expected"]
    ordinary = [f for f, e in expected.items() if not e and len(S.get(f, []))]
    print(f"{len(ordinary)} messages with no content rule expected, read as if every rule applied: "
          f"the highest score per detector, and how many reach the threshold in {args.config}/rules.toml")
    for det in DETECTOR_OF.values():
        P, N = heads[det]
        scores = sorted(((message_score("nearest", P, N, S[f]), f) for f in ordinary), reverse=True)
        t = thresholds.get(det)
        over = sum(1 for sc, _ in scores if t is not None and sc >= t)
        top, where = scores[0] if scores else (-1.0, "")
        print(f"  {det:<18} highest {top:.2f} ({os.path.basename(where)})  threshold {t}  reached by {over}")


if __name__ == "__main__":
    sys.exit(main())
