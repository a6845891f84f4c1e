#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# relay46 benchmark: direct vs relay46 vs HAProxy (TCP mode) vs nginx stream,
# side by side in one run, on loopback only.  See README.md in this folder.
#
#   contrib/bench/run.sh                  # about 2-3 minutes
#   QUICK=1 contrib/bench/run.sh          # under 40 seconds, rougher numbers
#   RELAY46=/path/to/relay46 contrib/bench/run.sh
#
# Environment:
#   RELAY46         relay46 binary (default: ../../src/relay46 from here).
#                   Must be a release build: a --enable-sanitizers build is
#                   refused unless ALLOW_SANITIZED=1 (ASan makes it 3-10x slower).
#   QUICK=1         short runs (0.5 s per throughput/connrate run).
#   REPS=3          runs per measurement; the table shows the median.
#   SESSIONS=1000   idle sessions held for the memory measurement.
#   TP_CONNS=8      connections for the multi-connection throughput run.
#   CR_CONC=32      concurrent connections for the connection-rate run.
#   TP_SECS, CR_SECS, LAT_COUNT   override the per-run durations/counts.
#   THREADS=1       worker threads for every proxy (relay46 workers,
#                   HAProxy nbthread, nginx worker_processes).
#   KEEP=1          keep the temporary directory (configs, logs) afterwards.
#   RESULTS=FILE    also write the table (markdown) to FILE.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RELAY46=${RELAY46:-$HERE/../../src/relay46}
QUICK=${QUICK:-0}
REPS=${REPS:-3}
SESSIONS=${SESSIONS:-1000}
TP_CONNS=${TP_CONNS:-8}
CR_CONC=${CR_CONC:-32}
if [ "$QUICK" = 1 ]; then
	TP_SECS=${TP_SECS:-0.5}
	CR_SECS=${CR_SECS:-0.5}
	LAT_COUNT=${LAT_COUNT:-2000}
else
	TP_SECS=${TP_SECS:-3}
	CR_SECS=${CR_SECS:-3}
	LAT_COUNT=${LAT_COUNT:-10000}
fi
THREADS=${THREADS:-1}
KEEP=${KEEP:-0}
RESULTS=${RESULTS:-}
BUFSIZE=65536			# user-space buffer per direction, all proxies
LG_TIMEOUT=120			# hard bound on any one loadgen client run

T_START=$(date +%s)
log() { printf '%s\n' "$*" >&2; }
die() { log "run.sh: $*"; exit 1; }

# ----------------------------------------------------------- process care
PIDS=()
WORK=
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
	local p alive
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 30); do
		alive=0
		for p in "${PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "$KEEP" = 1 ]; then
			log "run.sh: kept $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
}
trap cleanup EXIT
trap 'log "run.sh: interrupted"; exit 130' INT TERM

# ------------------------------------------------------------------ setup
[ -x "$RELAY46" ] || die "no relay46 binary at $RELAY46 (build it, or set RELAY46=...)"
if grep -aq -e __asan_init -e __ubsan_handle "$RELAY46" && [ "${ALLOW_SANITIZED:-0}" != 1 ]; then
	die "$RELAY46 is built with sanitizers (configure --enable-sanitizers);
  its numbers would say nothing about relay46.  Build a release binary from a
  clean copy of the tree and point RELAY46 at it, for example:
    mkdir -p /tmp/r46-src /tmp/r46-rel && cd /path/to/relay46
    git ls-files -z | xargs -0 cp --parents -t /tmp/r46-src
    cd /tmp/r46-src && autoreconf -fi && cd /tmp/r46-rel && /tmp/r46-src/configure && make src/relay46
    RELAY46=/tmp/r46-rel/src/relay46 $0
  (or set ALLOW_SANITIZED=1 to measure it anyway)"
fi
command -v cc >/dev/null || die "no C compiler (apt-get install gcc)"

WORK=$(mktemp -d /tmp/relay46-bench.XXXXXX) || die "mktemp failed"
LG=$WORK/loadgen
cc -O2 -pthread -o "$LG" "$HERE/loadgen.c" || die "cannot build loadgen"
# Our own copy, so a rebuild of the tree during the run changes nothing.
cp "$RELAY46" "$WORK/relay46" || die "cannot copy $RELAY46"

HARD=$(ulimit -Hn)
if [ "$HARD" = unlimited ]; then HARD=1048576; fi
ulimit -n "$HARD" 2>/dev/null || log "run.sh: cannot raise ulimit -n to $HARD"
NOFILE=$(ulimit -n)
if [ "$NOFILE" -lt $((SESSIONS * 3 + 500)) ]; then
	log "run.sh: ulimit -n is $NOFILE; lowering SESSIONS to fit"
	SESSIONS=$(( (NOFILE - 500) / 3 ))
fi
# haproxy maxconn / nginx worker_connections: room for the held sessions
# (nginx counts both sides of a session).  Both preallocate per slot.
MAXCONN=$(( SESSIONS * 2 + 1024 ))
[ "$MAXCONN" -lt 4096 ] && MAXCONN=4096

HAVE_TASKSET=0
command -v taskset >/dev/null && HAVE_TASKSET=1
ORIG_CPUS=
PIN_CPU=0
if [ "$HAVE_TASKSET" = 1 ]; then
	ORIG_CPUS=$(taskset -pc $$ | sed 's/.*: //')
	PIN_CPU=${ORIG_CPUS%%[-,]*}	# the first CPU we may use
fi

# Listening ports: below the ephemeral range, unused.
EPH_LO=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
port_used() {
	if command -v ss >/dev/null; then
		[ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}
TAKEN=" "
pick_port() {
	local p
	for _ in $(seq 1 200); do
		p=$(( 10000 + RANDOM % (EPH_LO - 10000 - 1) ))
		case "$TAKEN" in *" $p "*) continue ;; esac
		if ! port_used "$p"; then
			TAKEN="$TAKEN$p "
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}
wait_port() {	# PORT PID: until something accepts on 127.0.0.1:PORT
	local _
	for _ in $(seq 1 100); do
		kill -0 "$2" 2>/dev/null || return 1
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	return 1
}
rss() {		# VmRSS in KiB of the given pids, summed
	local p s=0 v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
hwm() {		# VmHWM (peak RSS) in KiB
	awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null
}

# Two backends: "echo" for throughput, latency and held sessions; "close"
# for the connection rate (it closes first, so TIME_WAIT lands on the
# accepting sides and connect() never runs out of ephemeral ports).
# Each proxy gets one listener for each.
BPORT=$(pick_port)
CPORT=$(pick_port)
RPORT=$(pick_port)
RPORT2=$(pick_port)
HPORT=$(pick_port)
HPORT2=$(pick_port)
NPORT=$(pick_port)
NPORT2=$(pick_port)

# ---------------------------------------------------------------- backend
"$LG" server echo "$BPORT" 900 2>"$WORK/backend.log" &
BACK_PID=$!
PIDS+=("$BACK_PID")
wait_port "$BPORT" "$BACK_PID" || die "echo backend did not start: $(cat "$WORK/backend.log")"
"$LG" server close "$CPORT" 900 2>"$WORK/backend-close.log" &
CBACK_PID=$!
PIDS+=("$CBACK_PID")
wait_port "$CPORT" "$CBACK_PID" || die "close backend did not start: $(cat "$WORK/backend-close.log")"

TARGETS=(direct)
declare -A PORT PORT2 PIN RSSPID
PORT[direct]=$BPORT
PORT2[direct]=$CPORT
PIN[direct]=""

# ---------------------------------------------------------------- relay46
cat >"$WORK/relay46.ini" <<EOF
[global]
workers = $THREADS
log = stderr
log_level = error
max_connections = 50000

[route bench]
listen = 127.0.0.1:$RPORT
upstream = 127.0.0.1:$BPORT
buffer = 64k
connect_timeout = 5s
idle_timeout = 1h

[route rate]
listen = 127.0.0.1:$RPORT2
upstream = 127.0.0.1:$CPORT
buffer = 64k
connect_timeout = 5s
idle_timeout = 1h
EOF
"$WORK/relay46" -q -c "$WORK/relay46.ini" -R "$WORK/relay46.ready" 2>"$WORK/relay46.log" &
R_PID=$!
PIDS+=("$R_PID")
for _ in $(seq 1 100); do
	[ -s "$WORK/relay46.ready" ] && break
	kill -0 "$R_PID" 2>/dev/null || break
	sleep 0.05
done
[ -s "$WORK/relay46.ready" ] || die "relay46 did not start: $(cat "$WORK/relay46.log")"
TARGETS+=(relay46)
PORT[relay46]=$RPORT
PORT2[relay46]=$RPORT2
PIN[relay46]=$R_PID
RSSPID[relay46]=$R_PID
R_VER=$("$WORK/relay46" -V 2>&1 | head -1)

# ---------------------------------------------------------------- haproxy
H_VER="not installed (apt-get install haproxy)"
if command -v haproxy >/dev/null; then
	H_VER=$(haproxy -v 2>&1 | head -1 | awk '{print $1, $2, $3}')
	cat >"$WORK/haproxy.cfg" <<EOF
global
    nbthread $THREADS
    maxconn $MAXCONN
    tune.bufsize $BUFSIZE
    # no log line: logging off

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

frontend bench
    bind 127.0.0.1:$HPORT
    default_backend echo

backend echo
    server echo1 127.0.0.1:$BPORT

frontend rate
    bind 127.0.0.1:$HPORT2
    default_backend close

backend close
    server close1 127.0.0.1:$CPORT
EOF
	if haproxy -c -q -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1; then
		haproxy -db -f "$WORK/haproxy.cfg" >>"$WORK/haproxy.log" 2>&1 &
		H_PID=$!
		PIDS+=("$H_PID")
		if wait_port "$HPORT" "$H_PID"; then
			TARGETS+=(haproxy)
			PORT[haproxy]=$HPORT
			PORT2[haproxy]=$HPORT2
			PIN[haproxy]=$H_PID
			RSSPID[haproxy]=$H_PID
		else
			log "run.sh: haproxy did not start: $(tail -3 "$WORK/haproxy.log")"
			H_VER="$H_VER (failed to start)"
		fi
	else
		log "run.sh: haproxy rejects the config: $(tail -3 "$WORK/haproxy.log")"
		H_VER="$H_VER (bad config)"
	fi
else
	log "run.sh: haproxy not found; to compare with it: apt-get install haproxy"
fi

# ------------------------------------------------------------------ nginx
N_VER="not installed (apt-get install nginx-light libnginx-mod-stream, or nginx)"
N_MASTER_RSS=
if command -v nginx >/dev/null; then
	N_VER=$(nginx -v 2>&1 | sed 's/.*version: //')
	NV=$(nginx -V 2>&1)
	LOADMOD=
	STREAM=0
	if printf '%s' "$NV" | grep -q -- '--with-stream=dynamic'; then
		for m in /usr/lib/nginx/modules/ngx_stream_module.so \
		    /usr/share/nginx/modules/ngx_stream_module.so; do
			if [ -f "$m" ]; then
				LOADMOD="load_module $m;"
				STREAM=1
				break
			fi
		done
	elif printf '%s' "$NV" | grep -q -- '--with-stream\( \|$\)'; then
		STREAM=1
	fi
	if [ "$STREAM" = 1 ]; then
		mkdir -p "$WORK/nginx"
		USERLINE=
		[ "$(id -u)" = 0 ] && USERLINE="user $(id -un) $(id -gn);"
		cat >"$WORK/nginx.conf" <<EOF
$LOADMOD
$USERLINE
daemon off;
worker_processes $THREADS;
worker_rlimit_nofile $NOFILE;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;

events {
    worker_connections $MAXCONN;
}

stream {
    server {
        listen 127.0.0.1:$NPORT;
        proxy_pass 127.0.0.1:$BPORT;
        proxy_buffer_size 64k;
        proxy_connect_timeout 5s;
        proxy_timeout 1h;
    }
    server {
        listen 127.0.0.1:$NPORT2;
        proxy_pass 127.0.0.1:$CPORT;
        proxy_buffer_size 64k;
        proxy_connect_timeout 5s;
        proxy_timeout 1h;
    }
}
EOF
		EFLAG=()
		nginx -h 2>&1 | grep -q -- '-e filename' && EFLAG=(-e "$WORK/nginx/error.log")
		nginx -p "$WORK/nginx/" -c "$WORK/nginx.conf" "${EFLAG[@]}" \
		    >"$WORK/nginx/stdout.log" 2>&1 &
		N_PID=$!
		PIDS+=("$N_PID")
		if wait_port "$NPORT" "$N_PID"; then
			N_WORKER=
			for _ in $(seq 1 40); do
				N_WORKER=$(ps -o pid= --ppid "$N_PID" 2>/dev/null | head -1 | tr -d ' ')
				[ -n "$N_WORKER" ] && break
				sleep 0.05
			done
			if [ -n "$N_WORKER" ]; then
				PIDS+=("$N_WORKER")
				TARGETS+=(nginx)
				PORT[nginx]=$NPORT
				PORT2[nginx]=$NPORT2
				PIN[nginx]="$N_PID $N_WORKER"
				RSSPID[nginx]=$N_WORKER
			else
				log "run.sh: nginx worker process not found"
				N_VER="$N_VER (no worker)"
			fi
		else
			log "run.sh: nginx did not start: $(tail -3 "$WORK/nginx/error.log" "$WORK/nginx/stdout.log" 2>/dev/null)"
			N_VER="$N_VER (failed to start)"
		fi
	else
		log "run.sh: nginx has no stream module; apt-get install libnginx-mod-stream (or nginx)"
		N_VER="$N_VER (no stream module: apt-get install libnginx-mod-stream)"
	fi
else
	log "run.sh: nginx not found; to compare with it: apt-get install nginx-light libnginx-mod-stream (or nginx)"
fi

has_target() { case " ${TARGETS[*]} " in *" $1 "*) return 0 ;; esac; return 1; }

# ------------------------------------------------------------ measurement
declare -A RES		# "metric target" -> values, one per run
# Failures go to a file: run_lg runs in a $(...) subshell.
fail() { echo "$*" >>"$WORK/failures"; }
add() { RES["$1 $2"]="${RES["$1 $2"]:-} $3"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# run_lg TARGET ARGS...: run a loadgen client, print its RESULT line
run_lg() {
	local t=$1 out rc mode a
	shift
	for a in "$@"; do
		case "$a" in throughput|latency|connrate|hold) mode=$a; break ;; esac
	done
	out=$(timeout "$LG_TIMEOUT" "$@" 2>"$WORK/loadgen.last")
	rc=$?
	cat "$WORK/loadgen.last" >>"$WORK/loadgen.err"
	if [ "$rc" != 0 ]; then
		fail "$rc $t $mode"
		log "run.sh: $t: loadgen $mode failed (exit $rc):"
		head -20 "$WORK/loadgen.last" >&2
		return 1
	fi
	grep '^RESULT' <<<"$out"
}

pin() {		# CPULIST PID...: all threads of each pid
	local cpus=$1 p
	shift
	for p in "$@"; do taskset -a -p -c "$cpus" "$p" >/dev/null 2>&1; done
}

measure() {	# TARGET
	local t=$1 port=${PORT[$1]} r
	if r=$(run_lg "$t" "$LG" throughput 127.0.0.1 "$port" 1 "$TP_SECS"); then
		add tp1 "$t" "$(field mbps "$r")"
	fi
	if r=$(run_lg "$t" "$LG" throughput 127.0.0.1 "$port" "$TP_CONNS" "$TP_SECS"); then
		add tpn "$t" "$(field mbps "$r")"
	fi
	if [ "$HAVE_TASKSET" = 1 ]; then
		# shellcheck disable=SC2086
		pin "$PIN_CPU" "$BACK_PID" ${PIN[$t]}
		r=$(run_lg "$t" taskset -c "$PIN_CPU" "$LG" latency 127.0.0.1 "$port" "$LAT_COUNT")
		local ok=$?
		# shellcheck disable=SC2086
		pin "$ORIG_CPUS" "$BACK_PID" ${PIN[$t]}
	else
		r=$(run_lg "$t" "$LG" latency 127.0.0.1 "$port" "$LAT_COUNT")
		local ok=$?
	fi
	if [ "$ok" = 0 ]; then
		add lat_min "$t" "$(field min_us "$r")"
		add lat_med "$t" "$(field median_us "$r")"
		add lat_p99 "$t" "$(field p99_us "$r")"
	fi
	if r=$(run_lg "$t" "$LG" connrate 127.0.0.1 "${PORT2[$t]}" "$CR_SECS" "$CR_CONC" server); then
		add cps "$t" "$(field cps "$r")"
		add cfail "$t" "$(field failed "$r")"
	fi
}

# hold_rss TARGET: RSS idle, then with SESSIONS idle sessions held
hold_rss() {
	local t=$1 pid=${RSSPID[$1]} before after held hp
	before=$(rss "$pid")
	add rss_idle "$t" "$before"
	: >"$WORK/hold.out"
	"$LG" hold 127.0.0.1 "${PORT[$t]}" "$SESSIONS" 60 >"$WORK/hold.out" 2>>"$WORK/loadgen.err" &
	hp=$!
	PIDS+=("$hp")
	for _ in $(seq 1 600); do
		grep -q '^READY' "$WORK/hold.out" && break
		kill -0 "$hp" 2>/dev/null || break
		sleep 0.05
	done
	held=$(sed -n 's/^READY held=\([0-9]*\).*/\1/p' "$WORK/hold.out")
	sleep 0.5		# let the proxy settle
	after=$(rss "$pid")
	kill -TERM "$hp" 2>/dev/null
	wait "$hp" 2>/dev/null
	if [ -z "$held" ] || [ "$held" = 0 ]; then
		log "run.sh: $t: could not hold sessions: $(tail -1 "$WORK/loadgen.err")"
		fail "1 $t hold"
		return
	fi
	[ "$held" != "$SESSIONS" ] && log "run.sh: $t: held only $held of $SESSIONS sessions"
	add rss_held "$t" "$after"
	add rss_sess "$t" "$(awk -v a="$after" -v b="$before" -v n="$held" 'BEGIN{printf "%.1f", (a-b)/n}')"
	sleep 0.5		# let the sessions close before the next one
}

log "run.sh: work dir $WORK; targets: ${TARGETS[*]}; ports echo=$BPORT close=$CPORT relay46=$RPORT,$RPORT2 haproxy=$HPORT,$HPORT2 nginx=$NPORT,$NPORT2"
log "run.sh: memory: $SESSIONS idle sessions per proxy"
for t in "${TARGETS[@]}"; do
	[ "$t" = direct ] && continue
	hold_rss "$t"
done
[ -n "${N_PID:-}" ] && N_MASTER_RSS=$(rss "$N_PID")

for rep in $(seq 1 "$REPS"); do
	log "run.sh: run $rep/$REPS (throughput ${TP_SECS}s x2, latency $LAT_COUNT round trips, connrate ${CR_SECS}s per target)"
	for t in "${TARGETS[@]}"; do
		measure "$t"
	done
done
for t in "${TARGETS[@]}"; do
	[ "$t" = direct ] && continue
	add rss_peak "$t" "$(hwm "${RSSPID[$t]}")"
	kill -0 "${RSSPID[$t]}" 2>/dev/null || { log "run.sh: $t died during the run"; fail "1 $t died"; }
done

# ------------------------------------------------------------------ table
median() {
	printf '%s\n' "$@" | grep -E '^[0-9]+(\.[0-9]+)?$' | sort -g | awk '
	    { a[NR] = $1 }
	    END { if (NR == 0) print "n/a"
		  else if (NR % 2) print a[(NR + 1) / 2]
		  else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
sum() {
	printf '%s\n' "$@" | grep -E '^[0-9]+$' | awk '{ s += $1; n++ } END { if (n) print s; else print "n/a" }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
	    if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b
	    else printf "-" }'
}
cell() {	# METRIC TARGET
	local v
	if ! has_target "$2"; then echo "n/a"; return; fi
	# shellcheck disable=SC2086
	case "$1" in
	cfail) v=$(sum ${RES["$1 $2"]:-}) ;;
	*) v=$(median ${RES["$1 $2"]:-}) ;;
	esac
	[ "$2" = direct ] && case "$1" in rss_*) v="-" ;; esac
	echo "$v"
}

ROWS=(tp1 tpn lat_min lat_med lat_p99 cps cfail rss_idle rss_held rss_sess rss_peak)
declare -A LABEL=(
	[tp1]="throughput, 1 conn (MB/s)"
	[tpn]="throughput, $TP_CONNS conns (MB/s)"
	[lat_min]="latency min, 64 B ping-pong (µs)"
	[lat_med]="latency median (µs)"
	[lat_p99]="latency p99 (µs)"
	[cps]="connections/s, $CR_CONC concurrent"
	[cfail]="connection failures (all runs)"
	[rss_idle]="RSS idle (KiB)"
	[rss_held]="RSS with $SESSIONS idle sessions (KiB)"
	[rss_sess]="RSS per idle session (KiB)"
	[rss_peak]="peak RSS after the run (KiB)"
)

table() {
	local m d r h n w
	printf '| %-38s | %9s | %9s | %9s | %9s | %14s | %15s | %13s |\n' \
	    metric direct relay46 haproxy nginx relay46/direct relay46/haproxy relay46/nginx
	printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' $(seq 40))" \
	    "----------:" "----------:" "----------:" "----------:" \
	    "---------------:" "----------------:" "--------------:"
	for m in "${ROWS[@]}"; do
		d=$(cell "$m" direct)
		r=$(cell "$m" relay46)
		h=$(cell "$m" haproxy)
		n=$(cell "$m" nginx)
		w=38	# printf pads bytes: "µ" is two
		case "${LABEL[$m]}" in *µ*) w=39 ;; esac
		printf "| %-${w}s | %9s | %9s | %9s | %9s | %14s | %15s | %13s |\n" \
		    "${LABEL[$m]}" "$d" "$r" "$h" "$n" \
		    "$(ratio "$r" "$d")" "$(ratio "$r" "$h")" "$(ratio "$r" "$n")"
	done
}

PINNED="not pinned (no taskset)"
[ -n "$ORIG_CPUS" ] && PINNED="pinned to CPU $PIN_CPU (taskset)"
{
	echo
	echo "relay46 benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')), Linux $(uname -r)"
	echo "relay46: $R_VER ($RELAY46); haproxy: $H_VER; nginx: $N_VER"
	echo "each proxy: $THREADS thread(s)/worker(s), logging off, 64 KiB user-space buffer per direction"
	echo "(relay46 buffer=64k, haproxy tune.bufsize 65536, nginx proxy_buffer_size 64k);"
	echo "median of $REPS runs; throughput ${TP_SECS}s/run, latency $LAT_COUNT round trips/run $PINNED, connrate ${CR_SECS}s/run"
	echo "MB/s = 10^6 bytes/s one way; relay46/X < 1 is worse for MB/s and conn/s, better for µs and KiB"
	[ -n "$N_MASTER_RSS" ] && echo "nginx RSS is its worker process; its master adds $N_MASTER_RSS KiB"
	echo
	table
	echo
	if [ -s "$WORK/failures" ]; then
		echo "failed runs (exit code, target, mode; medians use the other runs):"
		sed 's/^/  /' "$WORK/failures"
	fi
	echo "total time $(( $(date +%s) - T_START )) s"
} | tee ${RESULTS:+"$RESULTS"}

if [ -s "$WORK/failures" ]; then
	if grep -q '^2 ' "$WORK/failures"; then
		log "run.sh: PROTOCOL ERROR (wrong bytes or early end of stream) through: $(awk '$1 == 2 {print $2}' "$WORK/failures" | sort -u | tr '\n' ' ')"
		exit 2
	fi
	log "run.sh: $(wc -l <"$WORK/failures") measurement(s) failed; the medians use the runs that worked"
	exit 1
fi
exit 0
