#!/usr/bin/env bash
# Hostile structure, timed on the release build: each message judged by
# `councilgate check` (parse, analysis, every rule, the meaning reading,
# MIME rewrite) from a councillor to a junior officer — the path where every
# content rule reads it. Prints seconds and peak resident memory per case.
#   bench/hostile.sh [BIN]      (default target/release/councilgate)
# tests/hostile.rs sends the same structures through a running gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/councilgate}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import sys
out = sys.argv[1]
head = ("From: Mark Patel <cllr.patel@example-tc.gov.uk>\r\n"
        "To: Alex Green <alex.green@example-tc.gov.uk>\r\nMIME-Version: 1.0\r\n")
ask = "I need you to repaint the pavilion doors before the fete on Saturday."
body = f"Content-Type: text/plain\r\n\r\n{ask}\r\n"
for i in range(1000):
    body = (f"Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            f"{body}\r\n--b{i}--\r\n")
open(f"{out}/1-nested-1000.eml", "w").write(head + "Subject: nested\r\n" + body)
parts = "".join(f"--m\r\nContent-Type: text/plain\r\n\r\nPart {i}: {ask}\r\n"
                for i in range(10000))
open(f"{out}/2-parts-10000.eml", "w").write(
    head + "Subject: parts\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
    + parts + "--m--\r\n")
line = ("QUJDRGVmZ2g" * 2_200_000)[:24_000_000]
open(f"{out}/3-base64-line-24MB.eml", "w").write(
    head + "Subject: survey\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n"
    "--x\r\nContent-Type: text/plain\r\n\r\nAlex, the survey is attached.\r\n"
    "--x\r\nContent-Type: application/octet-stream; name=\"survey.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n" + line + "\r\n--x--\r\n")
for n in (12000, 100000):
    words = " ".join(["=?utf-8?q?a=C3=A9?="] * n)
    open(f"{out}/4-encoded-words-{n}.eml", "w").write(
        head + f"Subject: {words}\r\nContent-Type: text/plain\r\n\r\nAlex, see the subject.\r\n")
PY
printf '%-28s %10s %8s %10s  %s\n' case bytes seconds "peak RSS" verdict
for f in "$dir"/*.eml; do
  name=$(basename "$f" .eml)
  /usr/bin/time -f '%e %M' -o "$dir/time" "$bin" --config config check \
    --mail-from cllr.patel@example-tc.gov.uk --rcpt alex.green@example-tc.gov.uk "$f" \
    >"$dir/out" 2>&1 || true
  read -r secs kb <"$dir/time"
  printf '%-28s %10s %8s %7s MB  %s\n' "$name" "$(stat -c %s "$f")" "$secs" "$((kb / 1024))" \
    "$(head -n 1 "$dir/out")"
done
echo "(the 100,000-word header exceeds [smtp] max_header_size: the gateway refuses it at DATA with 552 5.3.4 before any of this runs)"
