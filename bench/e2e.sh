#!/usr/bin/env bash
# End-to-end throughput: the same smtp-source load, in one invocation and
# interleaved, (1) straight to smtp-sink (the machine's limit), (2) through a
# private Postfix relay on loopback, (3) through councilgate with its default
# rules and durable spool. Measures from the first message sent to the last
# received at the sink. Also: councilgate's acceptance latency (end of DATA
# to the reply) percentiles, and its resident memory with 500 idle sessions.
#
# Three kinds of load:
#   outbound  the clerk writing out, through the submission listener
#             (trusted network), smtp-source's message;
#   inbound   a resident writing to the clerk, through the inbound listener
#             as an MX sees mail, sender authentication on (SPF, DKIM, DMARC
#             answered from a DNS zone file, so no look-up waits on the
#             network), smtp-source's message;
#   internal  a councillor writing to a junior officer, through the
#             submission listener, a message with real text
#             (bench/mail/councillor-to-officer.eml, sent by bench/send.py):
#             every content rule reads it.
#
#   bench/e2e.sh            # full size: 2000 x 10 KB outbound; 500 x 200 KB x 3 recipients outbound
#                           # and inbound; 2000 x 10 KB inbound; 500 internal
#   bench/e2e.sh --quick    # a bounded run for CI
#   ROUNDS=3 bench/e2e.sh   # repeat each load and report the median
#
# Needs Debian's postfix (smtp-source, smtp-sink, postfix) and python3.
# Everything listens on 127.0.0.1; every process started is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# COUNT SIZE SESSIONS RCPTS KIND (SIZE is smtp-source's; internal sends its file)
if [ "${1:-}" = "--quick" ]; then
  LOADS=("300 10240 10 1 outbound" "60 204800 5 3 outbound" "60 204800 5 3 inbound" "60 0 5 1 internal")
  IDLE=200
else
  LOADS=("2000 10240 20 1 outbound" "500 204800 20 3 outbound" "500 204800 20 3 inbound" "2000 10240 20 1 inbound" "500 0 20 1 internal")
  IDLE=500
fi
# LOADS_ONLY="500 204800 20 3 inbound;500 0 20 1 internal" bench/e2e.sh   # loads of your choosing
if [ -n "${LOADS_ONLY:-}" ]; then IFS=';' read -r -a LOADS <<< "$LOADS_ONLY"; fi
ROUNDS=${ROUNDS:-1}
# COUNCILGATE_BIN runs another build (e.g. a baseline) against the same loads,
# with COUNCILGATE_CONFIG naming the config folder of that build.
BIN=${COUNCILGATE_BIN:-$ROOT/target/release/councilgate}
[ -x "$BIN" ] || cargo build --release --locked
WORK=$(mktemp -d /tmp/councilgate-bench.XXXXXX)
# Postfix runs its daemons as its own user: it must reach its queue in here.
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  "$ROOT/bench/postfix-relay.sh" stop "$WORK/postfix" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; return 1; }
SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
SMTP_SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
for tool in "$SMTP_SOURCE" "$SMTP_SINK"; do
  [ -x "$tool" ] || { echo "$tool not found: install Debian's postfix package" >&2; exit 2; }
done

# A fresh smtp-sink counting messages; echoes "pid port logfile".
start_sink() {
  local port log
  port=$(free_port); log=$WORK/sink.$port.log
  "$SMTP_SINK" -u nobody -c 127.0.0.1:$port 1000 > "$log" 2>&1 &
  PIDS+=($!); wait_port "$port"
  echo "$! $port $log"
}
sink_count() { tr '\r' '\n' < "$1" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2; }

# Sends COUNT messages of SIZE bytes over SESSIONS sessions with RCPTS
# recipients of KIND to PORT; waits until the sink at LOG has counted COUNT
# more; prints the seconds taken.
run_load() {
  local port=$1 count=$2 size=$3 sessions=$4 rcpts=$5 log=$6 kind=$7
  local before start end n
  before=$(sink_count "$log"); before=${before:-0}
  start=$(date +%s.%N)
  case "$kind" in
  outbound)
    "$SMTP_SOURCE" -s "$sessions" -m "$count" -l "$size" -r "$rcpts" -f clerk@example-tc.gov.uk -t someone@example.org 127.0.0.1:$port ;;
  inbound)
    # smtp-source names recipients clerk@, 2clerk@, 3clerk@…
    "$SMTP_SOURCE" -s "$sessions" -m "$count" -l "$size" -r "$rcpts" -f resident@example.org -t clerk@example-tc.gov.uk 127.0.0.1:$port ;;
  internal)
    python3 "$ROOT/bench/send.py" 127.0.0.1:$port "$count" "$sessions" "$ROOT/bench/mail/councillor-to-officer.eml" \
      cllr.smith@example-tc.gov.uk alex.green@example-tc.gov.uk ;;
  esac
  while :; do
    n=$(sink_count "$log"); n=${n:-0}
    [ $((n - before)) -ge "$count" ] && break
    if [ "$(echo "$(date +%s.%N) - $start > 600" | bc)" = 1 ]; then echo "timed out at $((n - before))/$count" >&2; return 1; fi
    sleep 0.02
  done
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

printf '%-28s %12s %12s %12s %8s %10s\n' "load" "direct msg/s" "postfix" "councilgate" "cg/pf" "cg share"
for load in "${LOADS[@]}"; do
  read -r COUNT SIZE SESSIONS RCPTS KIND <<< "$load"
  KIND=${KIND:-outbound}
  declare -A T=()
  CPU=""
  for round in $(seq 1 "$ROUNDS"); do
    # (1) direct
    read -r sp sport slog <<< "$(start_sink)"
    T[direct]+="$(run_load "$sport" "$COUNT" "$SIZE" "$SESSIONS" "$RCPTS" "$slog" "$KIND") "
    # (2) Postfix relay
    pport=$(free_port)
    rm -rf "$WORK/postfix"
    "$ROOT/bench/postfix-relay.sh" start "$WORK/postfix" "$pport" "$sport" > /dev/null
    wait_port "$pport"
    T[postfix]+="$(run_load "$pport" "$COUNT" "$SIZE" "$SESSIONS" "$RCPTS" "$slog" "$KIND") "
    "$ROOT/bench/postfix-relay.sh" stop "$WORK/postfix"
    # (3) councilgate, default rules, durable spool
    cg=$WORK/cg.$round.$COUNT; mkdir -p "$cg/etc"
    cp "${COUNCILGATE_CONFIG:-$ROOT/config}"/*.toml "$cg/etc/"
    cport=$(free_port); mport=$(free_port); wport=$(free_port); iport=$(free_port)
    cat >> "$cg/etc/councilgate.toml" <<CONF

[[routes]]
domains = ["*"]
host = "127.0.0.1"
port = $sport
tls = "none"
CONF
    # Inbound: SPF and DMARC for the resident's domain from a zone file
    # (and no per-address connection rate: every load comes from loopback);
    # smtp-source's 2clerk@, 3clerk@ are accepted as council addresses.
    cat > "$cg/etc/bench-zone.toml" <<'ZONE'
[txt]
"example.org" = "v=spf1 ip4:127.0.0.1 -all"
"_dmarc.example.org" = "v=DMARC1; p=reject"
ZONE
    sed -i 's/^dns_zone = ""/dns_zone = "bench-zone.toml"/' "$cg/etc/councilgate.toml"
    sed -i 's/^unknown_recipients = "refuse"/unknown_recipients = "accept"/' "$cg/etc/directory.toml"
    grep -q '^dns_zone = "bench-zone.toml"' "$cg/etc/councilgate.toml" || { echo "bench: dns_zone not set" >&2; exit 1; }
    COUNCILGATE__SERVER__DATA_DIR=$cg/data COUNCILGATE__SMTP__SUBMISSION__LISTEN=127.0.0.1:$cport \
    COUNCILGATE__SMTP__SUBMISSIONS__LISTEN=127.0.0.1:$(free_port) \
    COUNCILGATE__SMTP__INBOUND__LISTEN=127.0.0.1:$iport COUNCILGATE__WEB__LISTEN=127.0.0.1:$wport \
    COUNCILGATE__METRICS__LISTEN=127.0.0.1:$mport COUNCILGATE__SERVER__HOSTNAME=bench.local \
    COUNCILGATE__SMTP__MAX_CONNECTION_RATE_PER_IP=1000000 \
      "$BIN" --config "$cg/etc" serve > "$cg/log" 2>&1 &
    cgpid=$!; PIDS+=($cgpid); wait_port "$cport"; wait_port "$iport"
    lport=$cport; [ "$KIND" = inbound ] && lport=$iport
    cpu0=$(cpu_ticks "$cgpid")
    T[councilgate]+="$(run_load "$lport" "$COUNT" "$SIZE" "$SESSIONS" "$RCPTS" "$slog" "$KIND") "
    # councilgate's own CPU (user + system) per message over the load.
    CPU+="$(echo "($(cpu_ticks "$cgpid") - $cpu0) * 1000 / $(getconf CLK_TCK) / $COUNT" | bc -l) "
    curl -s "http://127.0.0.1:$mport/metrics" > "$WORK/metrics.$COUNT.$KIND.$SIZE.$round"
    if [ "$load" = "${LOADS[0]}" ] && [ "$round" = 1 ]; then
      # Resident memory with idle sessions open.
      python3 - "$cport" "$IDLE" "$cgpid" > "$WORK/idle.txt" <<'PY'
import socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port)); s.recv(512); socks.append(s)
time.sleep(1)
rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
print(len(socks), int(rss) // 1024)
for s in socks: s.close()
PY
    fi
    kill "$cgpid"; wait "$cgpid" 2>/dev/null || true
    kill "$sp"; wait "$sp" 2>/dev/null || true
  done
  d=$(echo "${T[direct]}" | tr ' ' '\n' | grep . | median)
  p=$(echo "${T[postfix]}" | tr ' ' '\n' | grep . | median)
  c=$(echo "${T[councilgate]}" | tr ' ' '\n' | grep . | median)
  rd=$(echo "$COUNT / $d" | bc -l); rp=$(echo "$COUNT / $p" | bc -l); rc=$(echo "$COUNT / $c" | bc -l)
  if [ "$KIND" = internal ]; then what="$COUNT internal ($(( $(wc -c < bench/mail/councillor-to-officer.eml) / 1024 + 1 )) KB)"
  else what="$COUNT x $((SIZE/1024)) KB x $RCPTS $KIND"; fi
  printf '%-28s %12.0f %12.0f %12.0f %7.2fx %9.0f%%\n' "$what" "$rd" "$rp" "$rc" "$(echo "$rc / $rp" | bc -l)" "$(echo "100 * $rc / $rd" | bc -l)"
  printf '    councilgate CPU (user + system) per message: %.2f ms (median of rounds)\n' "$(echo "$CPU" | tr ' ' '\n' | grep . | median)"
  # Acceptance latency percentiles from councilgate's histogram (bucket
  # bounds), over every round of this load.
  python3 - "$WORK"/metrics."$COUNT.$KIND.$SIZE".* <<'PY'
import sys, re
b = {}
for path in sys.argv[1:]:
    for l in open(path):
        m = re.match(r'councilgate_acceptance_seconds_bucket\{le="([^"]+)"\} (\d+)', l)
        if m:
            k = float('inf') if m.group(1) == '+Inf' else float(m.group(1))
            b[k] = b.get(k, 0) + int(m.group(2))
if b:
    total = max(b.values()); out = []
    for q in (0.5, 0.9, 0.99):
        le = min(k for k, v in b.items() if v >= q * total)
        out.append(f"p{int(q*100)} <= {le*1000:g} ms")
    print("    councilgate acceptance latency (end of DATA to 250): " + ", ".join(out) + f" ({total} messages)")
PY
done
if [ -f "$WORK/idle.txt" ]; then
  read -r nidle rss < "$WORK/idle.txt"
  echo "councilgate resident memory with $nidle idle sessions open: $rss MB"
fi
