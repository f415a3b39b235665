#!/usr/bin/env bash
# Starts (or stops) a private Postfix relay on loopback for the benchmark:
# its own configuration, queue and ports under DIR; nothing system-wide.
#   bench/postfix-relay.sh start DIR LISTEN_PORT RELAY_TO_PORT
#   bench/postfix-relay.sh stop DIR
set -euo pipefail
cmd=$1 dir=$2
case "$cmd" in
start)
  port=$3 relay=$4
  mkdir -p "$dir/etc" "$dir/spool" "$dir/data"
  cp /etc/postfix/master.cf "$dir/etc/master.cf"
  cp /etc/postfix/dynamicmaps.cf "$dir/etc/" 2>/dev/null || true
  cp -r /etc/postfix/dynamicmaps.cf.d "$dir/etc/" 2>/dev/null || true
  # The SMTP listener on our port; no chroot (the queue is ours).
  sed -i -E "s/^smtp( +)inet( +)n( +)-( +)[yn-]( +)/127.0.0.1:$port\1inet\2n\3-\4n\5/" "$dir/etc/master.cf"
  sed -i -E 's/^([a-z]+ +(unix|inet|fifo|pass) +[-yn] +[-yn] +)[-y]( )/\1n\3/' "$dir/etc/master.cf"
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
myhostname = postfix-bench.localdomain
mydomain = localdomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:$relay
smtp_dns_support_level = disabled
smtp_host_lookup = native
default_destination_concurrency_limit = 20
smtp_destination_concurrency_limit = 20
default_process_limit = 100
message_size_limit = 52428800
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
