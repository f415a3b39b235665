#!/usr/bin/env bash
# Runs each fuzz target for a bounded time (default 600 s each) and prints a
# line per target: runs, coverage, and whether it found a crash.
#   fuzz/run.sh [SECONDS]
# Needs a nightly toolchain (libFuzzer's sanitizer flags) and cargo-fuzz:
#   rustup toolchain install nightly; cargo install cargo-fuzz
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
# Targets to run (default: all), e.g. fuzz/run.sh 3600 spool_replay mime_rewrite
shift || true
targets=("$@")
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz: no nightly toolchain (rustup toolchain install nightly); cargo fuzz needs one" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2
  exit 2
fi
status=0
[ ${#targets[@]} -gt 0 ] || targets=(smtp_session message_policy spool_replay mime_rewrite policy_files)
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  # Seeds: the shipped fixtures and the labelled corpus for messages;
  # a few SMTP conversations for the session.
  if [ "$target" = message_policy ] || [ "$target" = mime_rewrite ]; then
    cp -n ../config/fixtures/*.eml ../tests/corpus/*.eml "corpus/$target/" 2>/dev/null || true
  elif [ "$target" = policy_files ]; then
    cp -n ../config/*.toml ../config/protocols/*.toml "corpus/$target/" 2>/dev/null || true
  elif [ "$target" = spool_replay ]; then
    for seed in seeds/spool/*; do cp -n "$seed" "corpus/$target/" 2>/dev/null || true; done
  else
    for seed in seeds/smtp/*; do cp -n "$seed" "corpus/$target/" 2>/dev/null || true; done
  fi
  log="artifacts/$target/run.log"
  set +e
  cargo +nightly fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$secs" -max_len=65536 -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix="artifacts/$target/" >"$log" 2>&1
  rc=$?
  set -e
  summary=$(grep -E '^#[0-9]+\s+(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true)
  if [ $rc -eq 0 ]; then
    echo "fuzz $target: ${secs}s, no crash — $summary"
  else
    echo "fuzz $target: FAILED (exit $rc) — see fuzz/$log and fuzz/artifacts/$target/" >&2
    status=1
  fi
done
exit $status
