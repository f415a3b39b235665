# A private Postfix on loopback: its own configuration, queue and port under
# a folder, nothing system-wide. Sourced by bench/postfix-relay.sh (the
# benchmark's relay) and tests/postfix-tenant.sh (the hairpin test's tenant).
#   private_postfix_config DIR PORT HOSTNAME   writes DIR/etc/{master,main}.cf;
#                                              append the role's settings to main.cf
#   private_postfix_start DIR                  checks and starts it
#   private_postfix_stop DIR
private_postfix_config() {
  local dir=$1 port=$2 name=$3
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
myhostname = $name
mydomain = localdomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
smtp_host_lookup = native
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
CONF
}

private_postfix_start() {
  local dir=$1
  postfix -c "$dir/etc" set-permissions >/dev/null 2>&1 || true
  postfix -c "$dir/etc" check
  # Postfix reports to syslog, absent here: a terminal shows its errors.
  script -qec "postfix -c $dir/etc start" /dev/null
}

private_postfix_stop() {
  postfix -c "$1/etc" stop >/dev/null 2>&1 || true
}
