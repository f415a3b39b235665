#!/usr/bin/env python3
"""Calibrate the semantic thresholds on a labelled corpus (its dev part).

usage: scripts/calibrate-semantic.py --bin target/release/councilgate --corpus DIR [DIR ...]
                                     [--cases FILE] [--directory FILE] [--config DIR] [--jobs N]

With --cases, the cases are the lines of that JSON file in the corpus folder (as
../shared/corpus-ashcombe/cases-dev.jsonl); without it, each `NAME.toml` beside a `NAME.eml` in the
corpus folders is a case (as tests/corpus, tests/holdout*). The thresholds the README states were
calibrated with
  scripts/calibrate-semantic.py --bin target/release/councilgate \
      --corpus tests/corpus tests/holdout tests/holdout2 tests/holdout3 --directory tests/corpus/directory.toml

Runs `councilgate check --json` on every case with a candidate rules.toml whose semantic thresholds are
all 0.3, so every detector reports its best-reading sentence, then, per detector, replays the decision
at each threshold from 0.30 to 0.99: a rule that fired only by meaning (its evidence carries
"(meaning: … score S)") fires at threshold T when S >= T. Prints, per rule and threshold, true and false
positives, and the lowest threshold at which no message that should be delivered is held. Standard library only.
"""
import argparse, concurrent.futures, glob, json, os, re, shutil, subprocess, sys, tempfile, tomllib

SCORE = re.compile(r"\(meaning: reads like .*, score ([0-9.]+)\)$")
DETECTOR_OF = {
    "instruction-to-staff": "instruction", "party-political-work": "party-political",
    "undue-pressure": "undue-pressure", "criticism-not-private": "criticism",
    "councillor-commitment": "commitment", "staffing-matters": "staffing",
    "employment-lobbying": "own-employment", "pre-election-publicity": "publicity-request",
}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", required=True, nargs="+")
    ap.add_argument("--cases")
    ap.add_argument("--directory", help="directory.toml to use (default: the first corpus folder's)")
    ap.add_argument("--config", help="config folder to copy (default: the corpus directory alone)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--dump", help="write per-case readings to this JSON file")
    args = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = tempfile.mkdtemp()
    if args.config:
        shutil.copytree(args.config, cfg, dirs_exist_ok=True)
    else:
        shutil.copy(args.directory or os.path.join(args.corpus[0], "directory.toml"), cfg)
    rules = open(os.path.join(repo, "config/rules.toml")).read()
    rules = re.sub(r"^(\S+) = 0\.\d+$", r"\1 = 0.3", rules, flags=re.M)
    open(os.path.join(cfg, "rules.toml"), "w").write(rules)
    cases = []
    for corpus in args.corpus:
        if args.cases:
            for l in open(os.path.join(corpus, args.cases)):
                if l.strip():
                    c = json.loads(l)
                    c["file"] = os.path.join(corpus, c["file"])
                    cases.append(c)
            continue
        for t in sorted(glob.glob(os.path.join(corpus, "*.toml"))):
            eml = t[:-len(".toml")] + ".eml"
            if os.path.exists(eml):
                c = tomllib.load(open(t, "rb"))
                c["file"] = eml
                cases.append(c)
    def run(c):
        argv = [os.path.abspath(args.bin), "check", "--config", cfg, "--mail-from", c["mail_from"]]
        for r in c["rcpt"]:
            argv += ["--rcpt", r]
        argv += ["--at", c["at"], "--json", c["file"]]
        p = subprocess.run(argv, capture_output=True, timeout=120)
        try:
            return {"got": json.loads(p.stdout)}
        except ValueError:
            print(f"{c['file']}: {p.stderr.decode()[:300]}", file=sys.stderr)
            return {"got": None}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        results = list(ex.map(run, cases))
    evidence = {}
    readings = []  # (case index, rule, fired_by_clause, meaning score or None, expected)
    for i, (c, r) in enumerate(zip(cases, results)):
        got = r["got"] or {"rules": []}
        fired = {h["id"]: h for h in got["rules"]}
        for rule in DETECTOR_OF:
            h = fired.get(rule)
            s = None
            clause = False
            said = ""
            if h:
                m = [(SCORE.search(e), e) for e in h["evidence"]]
                m = [x for x in m if x[0]]
                if m:
                    s = float(m[0][0].group(1))
                    said = m[0][1]
                else:
                    clause = True
            readings.append((i, rule, clause, s, rule in c["rules"]))
            evidence[(i, rule)] = said
    if args.dump:
        json.dump([dict(case=cases[i]["file"], rule=rule, clause=cl, score=s, expected=e)
                   for i, rule, cl, s, e in readings], open(args.dump, "w"), indent=1)
    delivered = {i for i, c in enumerate(cases) if c["verdict"] == "deliver"}
    print(f"{len(cases)} cases; thresholds: the lowest T (step 0.01) with no false positive on a message "
          f"that should be delivered, and F1 there")
    for rule in DETECTOR_OF:
        rs = [x for x in readings if x[1] == rule]
        pos = sum(1 for x in rs if x[4])
        def at(t):
            tp = fp = 0
            fp_deliver = 0
            for i, _, cl, s, e in rs:
                f = cl or (s is not None and s >= t)
                if f and e: tp += 1
                if f and not e:
                    fp += 1
                    if i in delivered: fp_deliver += 1
            fn = pos - tp
            p = tp / (tp + fp) if tp + fp else 1.0
            rc = tp / pos if pos else 1.0
            f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
            return tp, fp, fn, fp_deliver, f1
        line = []
        for t in [0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.01]:
            tp, fp, fn, fpd, f1 = at(t)
            line.append(f"{t:.2f}:{tp}/{fp}/{fn}")
        best = None
        for k in range(30, 100):
            t = k / 100
            if at(t)[1] == 0:
                best = t
                break
        print(f"{rule:<26} pos={pos:<3} " + " ".join(line) + f"  no-fp from {best}")
    for i, rule, cl, s, e in readings:
        if s is not None and not cl:
            tag = "TP" if e else "FP"
            print(f"  {tag} {rule:<24} {s:.3f} {cases[i]['file']}\n       {evidence[(i, rule)][:230]}")
    for i, rule, cl, s, e in readings:
        if e and not cl and s is None:
            print(f"  MISS {rule:<24} {cases[i]['file']}")

if __name__ == "__main__":
    main()
