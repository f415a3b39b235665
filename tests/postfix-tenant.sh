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
cmd=$1 dir=$2
case "$cmd" in
start)
  port=$3 gateway=$4 secret=$5
  shift 5
  mkdir -p "$dir/etc" "$dir/spool" "$dir/data" "$dir/mail"
  cp /etc/postfix/master.cf "$dir/etc/master.cf"
  cp /etc/postfix/dynamicmaps.cf "$dir/etc/" 2>/dev/null || true
  cp -r /etc/postfix/dynamicmaps.cf.d "$dir/etc/" 2>/dev/null || true
  # The SMTP listener on our port; no chroot (the queue is ours).
  sed -i -E "s/^smtp( +)inet( +)n( +)-( +)[yn-]( +)/127.0.0.1:$port\1inet\2n\3-\4n\5/" "$dir/etc/master.cf"
  sed -i -E 's/^([a-z]+ +(unix|inet|fifo|pass) +[-yn] +[-yn] +)[-y]( )/\1n\3/' "$dir/etc/master.cf"
  : > "$dir/etc/mailboxes"
  for a in "$@"; do echo "$a ${a%@*}/" >> "$dir/etc/mailboxes"; done
  # The routing rule: a message with the gateway's mark is delivered here
  # (FILTER to the mailbox delivery agent overrides the content filter);
  # any other message goes to the gateway.
  printf '/^X-Councilgate-Mark: %s$/ FILTER virtual:\n' "$secret" > "$dir/etc/header_checks"
  chown -R postfix "$dir/mail"
  cat > "$dir/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = tenant.localdomain
mydomain = localdomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = example-tc.gov.uk
virtual_mailbox_maps = texthash:$dir/etc/mailboxes
virtual_mailbox_base = $dir/mail
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
content_filter = smtp:[127.0.0.1]:$gateway
header_checks = regexp:$dir/etc/header_checks
smtp_dns_support_level = disabled
smtp_host_lookup = native
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
CONF
  postfix -c "$dir/etc" set-permissions >/dev/null 2>&1 || true
  postfix -c "$dir/etc" check
  # Postfix reports to syslog, absent here: a terminal shows its errors.
  script -qec "postfix -c $dir/etc start" /dev/null
  ;;
stop)
  postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
  ;;
esac
