#!/usr/bin/env bash
# The crash and fault tests at full size (CI runs them bounded):
# 2000 messages with 6 SIGKILLs; 1000 through an upstream that is down and
# comes back, and through one deferring a random 30%; the disk-full test;
# the PostgreSQL restart during a held-message load.
#   bench/durability.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CG_DURABILITY_MESSAGES=${CG_DURABILITY_MESSAGES:-2000}
export CG_DURABILITY_KILLS=${CG_DURABILITY_KILLS:-6}
cargo test --release --test durability -- --nocapture --test-threads 1 2>&1 | grep -E "^(crash|upstream|disk|test result)|sent [0-9]"
cargo test --release --test pg_restart -- --nocapture 2>&1 | grep -E "restart:|test result"
