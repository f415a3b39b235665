#!/usr/bin/env bash
# Starts (or stops) a private Postfix relay on loopback for the benchmark:
# its own configuration, queue and ports under DIR; nothing system-wide.
#   bench/postfix-relay.sh start DIR LISTEN_PORT RELAY_TO_PORT
#   bench/postfix-relay.sh stop DIR
set -euo pipefail
. "$(dirname "$0")/postfix-lib.sh"
cmd=$1 dir=$2
case "$cmd" in
start)
  port=$3 relay=$4
  private_postfix_config "$dir" "$port" postfix-bench.localdomain
  cat >> "$dir/etc/main.cf" <<CONF
relayhost = [127.0.0.1]:$relay
default_destination_concurrency_limit = 20
smtp_destination_concurrency_limit = 20
default_process_limit = 100
message_size_limit = 52428800
CONF
  private_postfix_start "$dir"
  ;;
stop)
  private_postfix_stop "$dir"
  ;;
esac
