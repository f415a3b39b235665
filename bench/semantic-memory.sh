#!/usr/bin/env bash
# Resident memory the sentence encoder adds to a running gateway: `serve`
# (release build) with policy.semantic on, then off, each given the same 20
# councillor messages to a junior officer over SMTP (the inbound listener,
# with an empty DNS zone so no look-up waits on the network). Prints VmRSS at
# start and after the messages, in kB.
#
# usage: bench/semantic-memory.sh   (after cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${COUNCILGATE_BIN:-target/release/councilgate}
for mode in on off; do
  d=$(mktemp -d)
  : > "$d/zone.toml"
  COUNCILGATE__POLICY__SEMANTIC=$mode COUNCILGATE__SERVER__DATA_DIR=$d \
  COUNCILGATE__SENDER_AUTH__DNS_ZONE=$d/zone.toml COUNCILGATE__WEB__LISTEN="" \
  COUNCILGATE__METRICS__LISTEN="" COUNCILGATE__SMTP__SUBMISSION__LISTEN="" \
  COUNCILGATE__SMTP__SUBMISSIONS__LISTEN="" \
    "$BIN" serve > "$d/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/2525) 2>/dev/null && break; sleep 0.1; done
  start=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  python3 - <<'PY'
import smtplib
body = ("From: cllr.patel@example-tc.gov.uk\r\nTo: alex.green@example-tc.gov.uk\r\n"
        "Subject: The pavilion\r\n\r\nHi Alex,\r\n\r\nI walked past the pavilion on Sunday afternoon "
        "with the grandchildren. The roof looks much better since the slates went on. The cricket club "
        "were out on the square and seemed pleased with it. One of them mentioned that the showers are "
        "still running cold. I gather the boiler was serviced in September. A resident stopped me about "
        "the hedge by the gate. She thinks it is blocking the view of the road. I said I would pass it "
        "on.\r\n\r\nBest wishes,\r\nPriya\r\n")
for _ in range(20):
    with smtplib.SMTP("127.0.0.1", 2525) as c:
        c.sendmail("cllr.patel@example-tc.gov.uk", ["alex.green@example-tc.gov.uk"], body)
PY
  after=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  echo "semantic=$mode rss_start_kb=$start rss_after_20_messages_kb=$after"
  kill $pid
  wait $pid 2>/dev/null || true
  rm -rf "$d"
done
