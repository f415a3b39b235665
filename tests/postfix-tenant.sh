#!/usr/bin/env bash
# A private Postfix on loopback playing the council's Microsoft 365 or Google
# tenant for the hairpin test (tests/hairpin.rs): it holds the council's
# mailboxes (Maildir under DIR/mail), refuses addresses it does not hold
# (550 5.1.1), and sends every message to the gateway as a content filter
# unless the message carries the gateway's mark with the right secret — the
# tenant's "unless the message has this header" routing rule. Nothing
# system-wide: its configuration, queue and ports are under DIR.
#   tests/postfix-tenant.sh start DIR PORT GATEWAY_PORT SECRET MAILBOX...
#   tests/postfix-tenant.sh stop DIR
set -euo pipefail
. "$(dirname "$0")/../bench/postfix-lib.sh"
cmd=$1 dir=$2
case "$cmd" in
start)
  port=$3 gateway=$4 secret=$5
  shift 5
  private_postfix_config "$dir" "$port" tenant.localdomain
  mkdir -p "$dir/mail"
  : > "$dir/etc/mailboxes"
  for a in "$@"; do echo "$a ${a%@*}/" >> "$dir/etc/mailboxes"; done
  # The routing rule: a message with the gateway's mark is delivered here
  # (FILTER to the mailbox delivery agent overrides the content filter);
  # any other message goes to the gateway.
  printf '/^X-Councilgate-Mark: %s$/ FILTER virtual:\n' "$secret" > "$dir/etc/header_checks"
  chown -R postfix "$dir/mail"
  cat >> "$dir/etc/main.cf" <<CONF
virtual_mailbox_domains = example-tc.gov.uk
virtual_mailbox_maps = texthash:$dir/etc/mailboxes
virtual_mailbox_base = $dir/mail
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
content_filter = smtp:[127.0.0.1]:$gateway
header_checks = regexp:$dir/etc/header_checks
CONF
  private_postfix_start "$dir"
  ;;
stop)
  private_postfix_stop "$dir"
  ;;
esac
