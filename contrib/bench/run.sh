#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# relay46 benchmark: direct vs relay46 vs HAProxy (TCP mode) vs nginx stream,
# each as shipped (package defaults) and at equal footing, in one run, on
# loopback only.  See README.md in this folder.
#
#   contrib/bench/run.sh                  # about 6 minutes
#   QUICK=1 contrib/bench/run.sh          # about 90 seconds, rougher numbers
#   MODE=clients contrib/bench/run.sh     # redis-benchmark, ab, iperf3
#   RELAY46=/path/to/relay46 contrib/bench/run.sh
#
# Environment:
#   RELAY46         relay46 binary (default: ../../src/relay46 from here).
#                   Must be a release build: a --enable-sanitizers build is
#                   refused unless ALLOW_SANITIZED=1 (ASan makes it 3-10x slower).
#   RELAY46_INI     the shipped configuration whose [global] and route
#                   defaults make "relay46 as shipped" (default:
#                   ../../etc/relay46.ini from here).
#   MODE            proxies (default): loadgen rows; clients: real clients.
#   QUICK=1         short runs.
#   REPS=3          runs per figure; the tables show the median.
#   IDLE=8000       idle relayed connections for the memory row (QUICK: 1000).
#   THREADS=1       equal footing: workers / nbthread / worker_processes.
#   TP_SECS RR_SECS CR_SECS SLOW_SECS SLOW_KIBPS   per-run durations, rate.
#   NO_INSTALL=1    do not apt-get install missing packages.
#   KEEP=1          keep the temporary directory (configs, logs) afterwards.
#   RESULTS=FILE    also write the tables (markdown) to FILE.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RELAY46=${RELAY46:-$HERE/../../src/relay46}
RELAY46_INI=${RELAY46_INI:-$HERE/../../etc/relay46.ini}
MODE=${MODE:-proxies}
QUICK=${QUICK:-0}
REPS=${REPS:-3}
THREADS=${THREADS:-1}
if [ "$QUICK" = 1 ]; then
	TP_SECS=${TP_SECS:-0.2}
	RR_SECS=${RR_SECS:-0.2}
	CR_SECS=${CR_SECS:-0.2}
	SLOW_SECS=${SLOW_SECS:-0.3}
	IDLE=${IDLE:-1000}
	CL_REDIS_N=${CL_REDIS_N:-20000}
	CL_AB_N=${CL_AB_N:-10000}
	CL_IPERF_SECS=${CL_IPERF_SECS:-1}
else
	TP_SECS=${TP_SECS:-1}
	RR_SECS=${RR_SECS:-1}
	CR_SECS=${CR_SECS:-1}
	SLOW_SECS=${SLOW_SECS:-1.5}
	IDLE=${IDLE:-8000}
	CL_REDIS_N=${CL_REDIS_N:-100000}
	CL_AB_N=${CL_AB_N:-50000}
	CL_IPERF_SECS=${CL_IPERF_SECS:-3}
fi
SLOW_KIBPS=${SLOW_KIBPS:-1024}
KEEP=${KEEP:-0}
RESULTS=${RESULTS:-}
EQBUF=65536			# equal footing: user-space buffer per direction
LG_TIMEOUT=120			# hard bound on any one client run
CR_CONC=32			# short connections: concurrent

T_START=$(date +%s)
log() { printf '[%3ds] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }
die() { log "run.sh: $*"; exit 1; }

case "$MODE" in proxies|clients) ;; *) die "MODE must be proxies or clients" ;; esac

# ----------------------------------------------------------- process care
declare -A LIVE=()	# pid -> 1 for everything we started and still run
WORK=
stop_pids() {	# PID...: TERM, wait up to 3 s, then KILL; only our own
	local p alive
	for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 30); do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for p in "$@"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		unset "LIVE[$p]"
	done
}
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
	trap - EXIT INT TERM
	[ "${#LIVE[@]}" -gt 0 ] && stop_pids "${!LIVE[@]}"
	[ -n "${POLICY_RC:-}" ] && rm -f "$POLICY_RC"
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

# ------------------------------------------------------- packages we need
# Each PACKAGE:PATH pair: install PACKAGE when PATH (a command or a file)
# is missing.  apt-get update only when a package is not found.  The
# packages' services must not start (they would take ports and CPU), so a
# policy-rc.d that refuses them is in place while apt-get runs, unless the
# machine already has one.
SUDO=
[ "$(id -u)" != 0 ] && SUDO=sudo
ensure_pkgs() {
	local pair pkg path missing=()
	for pair in "$@"; do
		pkg=${pair%%:*}
		path=${pair#*:}
		case "$path" in
		/*) [ -e "$path" ] && continue ;;
		*) command -v "$path" >/dev/null && continue ;;
		esac
		case " ${missing[*]:-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
	done
	[ "${#missing[@]}" = 0 ] && return 0
	if [ "${NO_INSTALL:-0}" = 1 ]; then
		log "run.sh: missing ${missing[*]} (NO_INSTALL=1: not installing)"
		return 1
	fi
	command -v apt-get >/dev/null || { log "run.sh: missing ${missing[*]}, and no apt-get"; return 1; }
	log "run.sh: installing ${missing[*]}"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		POLICY_RC=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY_RC" >/dev/null &&
		    $SUDO chmod 755 "$POLICY_RC"
	fi
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q)
	[ -n "$SUDO" ] && apt=(sudo "${apt[@]}")
	if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >"${WORK:-/tmp}/apt.log" 2>&1; then
		"${apt[@]}" update >>"${WORK:-/tmp}/apt.log" 2>&1
		"${apt[@]}" install --no-install-recommends "${missing[@]}" >>"${WORK:-/tmp}/apt.log" 2>&1 ||
		    log "run.sh: apt-get install ${missing[*]} failed: $(tail -3 "${WORK:-/tmp}/apt.log")"
	fi
	if [ -n "${POLICY_RC:-}" ]; then
		$SUDO rm -f "$POLICY_RC"
		POLICY_RC=
	fi
	return 0
}

# ------------------------------------------------------------------ setup
[ -x "$RELAY46" ] || die "no relay46 binary at $RELAY46 (build it, or set RELAY46=...)"
if grep -aq -e __asan_init -e __ubsan_handle "$RELAY46" && [ "${ALLOW_SANITIZED:-0}" != 1 ]; then
	die "$RELAY46 is built with sanitizers (configure --enable-sanitizers);
  its numbers would say nothing about relay46.  Build a release binary, for
  example out of tree from a clean worktree:
    autoreconf -fi && mkdir -p _rel && cd _rel && ../configure && make src/relay46
    RELAY46=\$PWD/src/relay46 $0
  (or set ALLOW_SANITIZED=1 to measure it anyway)"
fi
[ -r "$RELAY46_INI" ] || die "no relay46.ini at $RELAY46_INI (set RELAY46_INI=...)"

WORK=$(mktemp -d /tmp/relay46-bench.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"	# the HTTP origin's workers may run as another user

if [ "$MODE" = proxies ]; then
	ensure_pkgs gcc:cc haproxy:haproxy nginx:nginx \
	    libnginx-mod-stream:/usr/lib/nginx/modules/ngx_stream_module.so
else
	ensure_pkgs gcc:cc haproxy:haproxy nginx:nginx \
	    libnginx-mod-stream:/usr/lib/nginx/modules/ngx_stream_module.so \
	    redis-server:redis-server redis-tools:redis-benchmark \
	    apache2-utils:ab iperf3:iperf3
fi
command -v cc >/dev/null || die "no C compiler (apt-get install gcc)"

LG=$WORK/loadgen
cc -O2 -pthread -o "$LG" "$HERE/loadgen.c" || die "cannot build loadgen"
# Our own copy, so a rebuild of the tree during the run changes nothing.
cp "$RELAY46" "$WORK/relay46" || die "cannot copy $RELAY46"

HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
ulimit -n "$HARD" 2>/dev/null || log "run.sh: cannot raise ulimit -n to $HARD"
NOFILE=$(ulimit -n)
# The limit is per process: a relay holding IDLE sessions needs 2*IDLE
# descriptors, the hold client and the echo backend IDLE each.
if [ "$NOFILE" -lt $((IDLE * 2 + 1000)) ]; then
	IDLE=$(( (NOFILE - 1000) / 2 ))
	log "run.sh: ulimit -n is $NOFILE; lowering IDLE to $IDLE"
fi
# Equal footing limits, room for the idle sessions.  HAProxy's maxconn
# counts sessions (and it needs 2 descriptors each, which must fit in
# ulimit -n); nginx's worker_connections counts both sides of a session.
HAP_MAXCONN=$(( IDLE + 1024 ))
[ "$HAP_MAXCONN" -lt 4096 ] && HAP_MAXCONN=4096
[ $((HAP_MAXCONN * 2 + 100)) -gt "$NOFILE" ] && HAP_MAXCONN=$(( (NOFILE - 100) / 2 ))
NGX_CONNS=$(( IDLE * 2 + 1024 ))
[ "$NGX_CONNS" -lt 4096 ] && NGX_CONNS=4096

ORIG_CPUS=$(taskset -pc $$ 2>/dev/null | sed 's/.*: //')
PIN_CPU=${ORIG_CPUS%%[-,]*}
command -v taskset >/dev/null || die "no taskset (apt-get install util-linux)"
TCK=$(getconf CLK_TCK)

EPH_LO=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
port_used() { [ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]; }
TAKEN=" "
pick_port() {	# a free listening port below the ephemeral range
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
	for _ in $(seq 1 200); do
		kill -0 "$2" 2>/dev/null || return 1
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	return 1
}
status_kib() {	# FIELD PID...: a /proc/PID/status field in KiB, summed
	local f=$1 p s=0 v
	shift
	for p in "$@"; do
		v=$(awk -v f="$f:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
cpu_ticks() {	# PID...: utime + stime, all threads, summed
	local p s=0 v
	for p in "$@"; do
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
nfds() {	# PID...: open descriptors, summed
	local p s=0
	for p in "$@"; do s=$((s + $(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l))); done
	echo "$s"
}
pin() {		# CPULIST PID...: every thread of each pid
	local cpus=$1 p
	shift
	for p in "$@"; do taskset -a -p -c "$cpus" "$p" >/dev/null 2>&1; done
}
conffile_state() {	# PACKAGE FILE: does FILE still match the package's?
	local want have
	want=$(dpkg-query -W -f='${Conffiles}\n' "$1" 2>/dev/null | awk -v f="$2" '$1 == f {print $2}')
	have=$(md5sum "$2" 2>/dev/null | awk '{print $1}')
	if [ -z "$want" ]; then echo "unknown origin"
	elif [ "$want" = "$have" ]; then echo "unmodified"
	else echo "LOCALLY MODIFIED"
	fi
}

# -------------------------------------------------------------- backends
# NAME -> port.  Every proxy instance gets one listener per backend.
declare -A BPORT=()
BACKENDS=()
start_lg_backend() {	# NAME MODE
	local p pid
	p=$(pick_port)
	"$LG" server "$2" "$p" 1800 2>"$WORK/backend-$1.log" &
	pid=$!
	LIVE[$pid]=1
	wait_port "$p" "$pid" || die "$1 backend did not start: $(cat "$WORK/backend-$1.log")"
	BPORT[$1]=$p
	BPID[$1]=$pid
	BACKENDS+=("$1")
}
declare -A BPID=()

# ----------------------------------------------------------------- proxies
# An instance (r46s, haps, ngxs = as shipped; r46e, hape, ngxe = equal
# footing) has: LPORT["inst backend"], PROCS[inst] (its pids: CPU, RSS,
# pinning), BUF[inst] (bytes per direction), CONF[inst] (a summary).
declare -A LPORT=() PROCS=() BUF=() CONF=()
INSTANCES=()

pick_listen_ports() {	# INST: a port per backend, kept across restarts
	local b
	for b in "${BACKENDS[@]}"; do
		[ -n "${LPORT["$1 $b"]:-}" ] || LPORT["$1 $b"]=$(pick_port)
	done
}

# relay46 as shipped: RELAY46_INI's [global] section as it is, and one route
# per backend with the shipped example route's keys; only listen and
# upstream change.  Logging stays as shipped (log = stderr, log_level =
# info: one line per session), and stderr goes to a file, as under systemd
# it goes to the journal.  The control socket stays on as shipped, each
# instance with its own path.  Equal footing: the same, with workers =
# THREADS, buffer = 64k and log_level = error.
relay46_ini() {	# INST shipped|equal
	local inst=$1 flavor=$2 b
	awk -v flavor="$flavor" -v threads="$THREADS" -v ctl="$WORK/$inst.ctl" '
	    /^[ \t]*\[/ { sec = $0; gsub(/[ \t]/, "", sec) }
	    sec == "[global]" {
		if ($0 ~ /^[ \t]*control[ \t]*=/) { print "control = " ctl; next }
		if (flavor == "equal" && $0 ~ /^[ \t]*workers[ \t]*=/) { print "workers = " threads; next }
		if (flavor == "equal" && $0 ~ /^[ \t]*log_level[ \t]*=/) { print "log_level = error"; next }
		print; next }
	    ' "$RELAY46_INI"
	for b in "${BACKENDS[@]}"; do
		printf '\n[route %s]\nlisten = 127.0.0.1:%s\nlisten = [::1]:%s\nupstream = 127.0.0.1:%s\n' \
		    "$b" "${LPORT["$inst $b"]}" "${LPORT["$inst $b"]}" "${BPORT[$b]}"
		# the first route's keys, but listen and upstream
		awk -v flavor="$flavor" '
		    /^[ \t]*\[/ { if (inr) exit; sec = $0; gsub(/[ \t]/, "", sec); inr = sec ~ /^\[route/; next }
		    !inr || /^[ \t]*[;#]/ || /^[ \t]*$/ { next }
		    /^[ \t]*(listen|upstream)[ \t]*=/ { next }
		    flavor == "equal" && /^[ \t]*buffer[ \t]*=/ { next }
		    { print }
		    END { if (flavor == "equal") print "buffer = 64k" }
		    ' "$RELAY46_INI"
	done
}
ini_value() {	# FILE SECTION-PREFIX KEY: first value, without comment
	awk -v s="$2" -v k="$3" '
	    /^[ \t]*\[/ { sec = $0; gsub(/[ \t]/, "", sec); next }
	    index(sec, s) == 1 && $0 ~ "^[ \t]*" k "[ \t]*=" {
		sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t]+;.*/, ""); sub(/[ \t]+$/, ""); print; exit }' "$1"
}
size_bytes() {	# 64k -> 65536
	awk -v v="$1" 'BEGIN { n = v + 0; u = tolower(substr(v, length(v)));
	    if (u == "k") n *= 1024; else if (u == "m") n *= 1048576; print n }'
}

start_relay46() {	# INST shipped|equal
	local inst=$1 flavor=$2 pid ini=$WORK/$1.ini logf=$WORK/$1.log b w
	pick_listen_ports "$inst"
	relay46_ini "$inst" "$flavor" >"$ini"
	rm -f "$WORK/$inst.ready"
	"$WORK/relay46" -t -c "$ini" >"$logf" 2>&1 || die "relay46 rejects $ini: $(tail -3 "$logf")"
	"$WORK/relay46" -c "$ini" -R "$WORK/$inst.ready" 2>>"$logf" &
	pid=$!
	LIVE[$pid]=1
	for _ in $(seq 1 100); do
		[ -s "$WORK/$inst.ready" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$WORK/$inst.ready" ] || die "relay46 did not start: $(tail -3 "$logf")"
	PROCS[$inst]=$pid
	b=$(ini_value "$ini" "[route" buffer)
	BUF[$inst]=$(size_bytes "${b:-64k}")
	w=$(ini_value "$ini" "[global]" workers)
	CONF[$inst]="workers=$w buffer=$b log_level=$(ini_value "$ini" "[global]" log_level) ($ini)"
}

# HAProxy as shipped: Debian's /etc/haproxy/haproxy.cfg global and
# defaults, except what cannot run in a temporary directory: chroot, stats
# socket, user/group, daemon (-db instead), and its two syslog targets
# (/dev/log), which become one "log stderr" target to a file (one line per
# session, as relay46's); mode http -> mode tcp, option httplog -> option
# tcplog (what HAProxy itself falls back to in TCP mode).  Defaults stay:
# nbthread = CPUs, tune.bufsize 16384, maxconn from ulimit -n, timeouts.
HAPROXY_CFG=/etc/haproxy/haproxy.cfg
start_haproxy() {	# INST shipped|equal
	local inst=$1 flavor=$2 cfg=$WORK/$1.cfg logf=$WORK/$1.log pid b
	pick_listen_ports "$inst"
	if [ "$flavor" = shipped ]; then
		[ -r "$HAPROXY_CFG" ] || { log "run.sh: no $HAPROXY_CFG"; return 1; }
		sed -E -e '/^[[:space:]]*chroot[[:space:]]/d' \
		    -e '/^[[:space:]]*stats[[:space:]]+socket[[:space:]]/d' \
		    -e '/^[[:space:]]*(user|group)[[:space:]]/d' \
		    -e '/^[[:space:]]*daemon[[:space:]]*$/d' \
		    -e '0,/^[[:space:]]*log[[:space:]]+\/dev\/log/{/^[[:space:]]*log[[:space:]]+\/dev\/log/s/.*/\tlog stderr format raw local0  # was: log \/dev\/log (2 lines)/}' \
		    -e '/^[[:space:]]*log[[:space:]]+\/dev\/log/d' \
		    -e 's/^([[:space:]]*mode[[:space:]]+)http/\1tcp/' \
		    -e 's/option[[:space:]]+httplog/option tcplog/' "$HAPROXY_CFG" >"$cfg"
	else
		cat >"$cfg" <<EOF
global
    nbthread $THREADS
    maxconn $HAP_MAXCONN
    tune.bufsize $EQBUF
    # no log line: logging off

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
EOF
	fi
	for b in "${BACKENDS[@]}"; do
		cat >>"$cfg" <<EOF

frontend f_$b
    bind 127.0.0.1:${LPORT["$inst $b"]}
    bind [::1]:${LPORT["$inst $b"]}
    default_backend b_$b

backend b_$b
    server s_$b 127.0.0.1:${BPORT[$b]}
EOF
	done
	haproxy -c -q -f "$cfg" >"$logf" 2>&1 || { log "run.sh: haproxy rejects $cfg: $(tail -3 "$logf")"; return 1; }
	haproxy -db -f "$cfg" >>"$logf" 2>&1 &
	pid=$!
	LIVE[$pid]=1
	wait_port "${LPORT["$inst ${BACKENDS[0]}"]}" "$pid" || { log "run.sh: haproxy did not start: $(tail -3 "$logf")"; return 1; }
	PROCS[$inst]=$pid
	if [ "$flavor" = shipped ]; then
		BUF[$inst]=16384
		CONF[$inst]="nbthread=$(nproc) (default) tune.bufsize=16384 (default) maxconn=default, logs each session ($cfg, from $HAPROXY_CFG, $(conffile_state haproxy "$HAPROXY_CFG"))"
	else
		BUF[$inst]=$EQBUF
		CONF[$inst]="nbthread=$THREADS tune.bufsize=$EQBUF maxconn=$HAP_MAXCONN, no log"
	fi
}

# nginx stream as shipped: Debian's /etc/nginx/nginx.conf main context and
# events block as they are (worker_processes auto, worker_connections 768,
# the modules-enabled include that loads the stream module), without its
# http block (not used) and its user line; pid and error_log go to the
# temporary directory; daemon off from the command line.  The stream
# servers use every default (proxy_buffer_size 16k, no access log).
NGINX_CONF=/etc/nginx/nginx.conf
start_nginx() {	# INST shipped|equal
	local inst=$1 flavor=$2 cfg=$WORK/$1.conf logf=$WORK/$1.log pid b extra
	pick_listen_ports "$inst"
	if [ "$flavor" = shipped ]; then
		[ -r "$NGINX_CONF" ] || { log "run.sh: no $NGINX_CONF"; return 1; }
		awk -v pidf="$WORK/$inst.pid" -v errf="$logf" '
		    { line = $0; code = $0; sub(/#.*/, "", code) }
		    depth == 0 && skip == 0 && code ~ /^[ \t]*http[ \t]*\{/ { skip = 1 }
		    { o = gsub(/\{/, "{", code); c = gsub(/\}/, "}", code); depth += o - c }
		    skip { if (depth == 0) skip = 0; next }
		    code ~ /^[ \t]*user[ \t]/ { next }
		    code ~ /^[ \t]*pid[ \t]/ { print "pid " pidf ";"; next }
		    code ~ /^[ \t]*error_log[ \t]/ { print "error_log " errf ";"; next }
		    { print line }' "$NGINX_CONF" >"$cfg"
		extra=""
	else
		cat >"$cfg" <<EOF
include /etc/nginx/modules-enabled/*.conf;
worker_processes $THREADS;
worker_rlimit_nofile $NOFILE;
pid $WORK/$inst.pid;
error_log $logf warn;

events {
    worker_connections $NGX_CONNS;
}
EOF
		extra="proxy_buffer_size 64k; proxy_connect_timeout 5s; proxy_timeout 1h;"
	fi
	{
		echo
		echo "stream {"
		for b in "${BACKENDS[@]}"; do
			echo "    server { listen 127.0.0.1:${LPORT["$inst $b"]}; listen [::1]:${LPORT["$inst $b"]}; proxy_pass 127.0.0.1:${BPORT[$b]}; $extra }"
		done
		echo "}"
	} >>"$cfg"
	nginx -t -q -c "$cfg" -e "$logf" -g 'daemon off;' >"$logf.out" 2>&1 ||
	    { log "run.sh: nginx rejects $cfg: $(tail -3 "$logf.out")"; return 1; }
	nginx -c "$cfg" -e "$logf" -g 'daemon off;' >>"$logf.out" 2>&1 &
	pid=$!
	LIVE[$pid]=1
	wait_port "${LPORT["$inst ${BACKENDS[0]}"]}" "$pid" || { log "run.sh: nginx did not start: $(tail -3 "$logf" "$logf.out")"; return 1; }
	local want workers=""
	want=$(awk '$1 == "worker_processes" {gsub(/;/, "", $2); print $2}' "$cfg")
	[ "$want" = auto ] && want=$(nproc)
	for _ in $(seq 1 60); do
		workers=$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -d ' ' | tr '\n' ' ')
		[ "$(wc -w <<<"$workers")" -ge "$want" ] && break
		sleep 0.05
	done
	PROCS[$inst]="$pid $workers"
	if [ "$flavor" = shipped ]; then
		BUF[$inst]=16384
		CONF[$inst]="worker_processes auto ($want) worker_connections $(awk '$1 == "worker_connections" {gsub(/;/, "", $2); print $2}' "$cfg") proxy_buffer_size 16k (default), no stream log ($cfg, from $NGINX_CONF, $(conffile_state nginx-common "$NGINX_CONF"))"
	else
		BUF[$inst]=$EQBUF
		CONF[$inst]="worker_processes $THREADS worker_connections $NGX_CONNS proxy_buffer_size 64k, no stream log"
	fi
}

start_inst() {	# INST
	case "$1" in
	r46s) start_relay46 r46s shipped ;;
	r46e) start_relay46 r46e equal ;;
	haps) command -v haproxy >/dev/null && start_haproxy haps shipped ;;
	hape) command -v haproxy >/dev/null && start_haproxy hape equal ;;
	ngxs) command -v nginx >/dev/null && start_nginx ngxs shipped ;;
	ngxe) command -v nginx >/dev/null && start_nginx ngxe equal ;;
	esac
}
stop_inst() {	# INST
	local p
	# shellcheck disable=SC2086
	[ -n "${PROCS[$1]:-}" ] && stop_pids ${PROCS[$1]}
	for p in ${PROCS[$1]:-}; do unset "LIVE[$p]"; done
	PROCS[$1]=
}
start_all() {	# INST...: start each; INSTANCES = those that run
	local i
	INSTANCES=()
	for i in "$@"; do
		if start_inst "$i"; then INSTANCES+=("$i"); else log "run.sh: $i not measured"; fi
	done
}

# ------------------------------------------------------------ bookkeeping
declare -A RES=()	# "metric target" -> values, one per run
fail() { echo "$*" >>"$WORK/failures"; }
add() { RES["$1 $2"]="${RES["$1 $2"]:-} $3"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# run_lg TARGET ARGS...: run a client with a time bound, print its RESULT
run_lg() {
	local t=$1 out rc
	shift
	out=$(timeout "$LG_TIMEOUT" "$@" 2>"$WORK/client.last")
	rc=$?
	cat "$WORK/client.last" >>"$WORK/client.err"
	if [ "$rc" != 0 ]; then
		fail "$rc $t $*"
		log "run.sh: $t: '$*' failed (exit $rc): $(head -5 "$WORK/client.last")"
		return 1
	fi
	grep '^RESULT' <<<"$out"
}

procs_of() { [ "$1" = direct ] && return; echo "${PROCS[$1]}"; }

# --------------------------------------------------------- loadgen rows
# A measured run: CPU of the relay's processes from /proc before and after.
CPU_S=0
# timed_lg runs in a $(...) subshell, so its CPU figure travels through a
# file: cpu_after reads it.
timed_lg() {	# TARGET ARGS...
	local t=$1 c0 c1 r
	shift
	rm -f "$WORK/cpu.last"
	# shellcheck disable=SC2046
	c0=$(cpu_ticks $(procs_of "$t"))
	r=$(run_lg "$t" "$@") || return 1
	# shellcheck disable=SC2046
	c1=$(cpu_ticks $(procs_of "$t"))
	calc "%.3f" "($c1 - $c0) / $TCK" >"$WORK/cpu.last"
	echo "$r"
}
cpu_after() { cat "$WORK/cpu.last" 2>/dev/null || echo 0; }
tport() {	# TARGET BACKEND: where the client connects
	if [ "$1" = direct ]; then echo "${BPORT[$2]}"; else echo "${LPORT["$1 $2"]}"; fi
}

measure() {	# TARGET: one round of every timed row
	local t=$1 dir n r bytes pinned lp key ok
	for dir in up down; do
		for n in 1 8; do
			if [ "$dir" = up ]; then lp=$(tport "$t" sink); else lp=$(tport "$t" source); fi
			r=$(timed_lg "$t" "$LG" bulk "$dir" 127.0.0.1 "$lp" "$n" "$TP_SECS") || continue
			CPU_S=$(cpu_after "$t")
			key=b${dir:0:1}$n
			add "$key" "$t" "$(field gbps "$r")"
			bytes=$(field total_bytes "$r")
			[ "$t" != direct ] && add "${key}c" "$t" "$(calc "%.2f" "$CPU_S / ($bytes / 1073741824)")"
		done
	done
	lp=$(tport "$t" echo)
	for pinned in u p; do
		for n in 1 50; do
			if [ "$pinned" = p ]; then
				# shellcheck disable=SC2046
				pin "$PIN_CPU" "${BPID[echo]}" $(procs_of "$t")
				r=$(timed_lg "$t" taskset -c "$PIN_CPU" "$LG" rr 127.0.0.1 "$lp" "$n" "$RR_SECS")
				ok=$?
				# shellcheck disable=SC2046
				pin "$ORIG_CPUS" "${BPID[echo]}" $(procs_of "$t")
			else
				r=$(timed_lg "$t" "$LG" rr 127.0.0.1 "$lp" "$n" "$RR_SECS")
				ok=$?
			fi
			[ "$ok" = 0 ] || continue
			CPU_S=$(cpu_after "$t")
			key=rr$n$pinned
			add "${key}_50" "$t" "$(field p50_us "$r")"
			add "${key}_99" "$t" "$(field p99_us "$r")"
			[ "$t" != direct ] && add "${key}_c" "$t" "$(calc "%.1f" "$CPU_S * 1e6 / $(field requests "$r")")"
		done
	done
	lp=$(tport "$t" close)
	if r=$(timed_lg "$t" "$LG" connrate 127.0.0.1 "$lp" "$CR_SECS" "$CR_CONC" server); then
		CPU_S=$(cpu_after "$t")
		add cps "$t" "$(field cps "$r")"
		add cfail "$t" "$(field failed "$r")"
		[ "$t" != direct ] && [ "$(field ok "$r")" -gt 0 ] &&
		    add cpsc "$t" "$(calc "%.1f" "$CPU_S * 1e6 / $(field ok "$r")")"
	fi
}

# Slow reader: VmHWM (peak RSS) reset with clear_refs, so the peak is this
# test's; growth = peak - RSS before.
slow_reader() {	# INST
	local t=$1 p base peak ok=1 r
	for p in ${PROCS[$t]}; do
		echo 5 >"/proc/$p/clear_refs" 2>/dev/null || ok=0
	done
	# shellcheck disable=SC2086
	base=$(status_kib VmRSS ${PROCS[$t]})
	r=$(run_lg "$t" "$LG" slowread 127.0.0.1 "${LPORT["$t source"]}" "$SLOW_SECS" "$SLOW_KIBPS") || return
	if [ "$ok" = 0 ]; then
		log "run.sh: $t: cannot reset VmHWM (clear_refs); slow-reader peak is the process's lifetime peak"
		[ "${CLEAR_WARNED:-0}" = 0 ] && fail "0 $t clear_refs"
		CLEAR_WARNED=1
	fi
	# shellcheck disable=SC2086
	peak=$(status_kib VmHWM ${PROCS[$t]})
	add slow "$t" "$((peak - base))"
	add slowx "$t" "$(calc "%.1f" "($peak - $base) * 1024 / ${BUF[$t]}")"
}

# Idle: VmRSS of all the relay's processes before, and with IDLE sessions
# held open (each moved 16 bytes each way first); KiB each = growth / held.
idle_rss() {	# INST
	local t=$1 before after held hp fds
	# shellcheck disable=SC2086
	before=$(status_kib VmRSS ${PROCS[$t]})
	: >"$WORK/hold.out"
	"$LG" hold 127.0.0.1 "${LPORT["$t echo"]}" "$IDLE" 90 >"$WORK/hold.out" 2>>"$WORK/client.err" &
	hp=$!
	LIVE[$hp]=1
	for _ in $(seq 1 1400); do
		grep -q '^READY' "$WORK/hold.out" && break
		kill -0 "$hp" 2>/dev/null || break
		sleep 0.05
	done
	held=$(sed -n 's/^READY held=\([0-9]*\).*/\1/p' "$WORK/hold.out")
	sleep 0.3		# let the proxy settle
	# shellcheck disable=SC2086
	after=$(status_kib VmRSS ${PROCS[$t]})
	# shellcheck disable=SC2086
	fds=$(nfds ${PROCS[$t]})
	stop_pids "$hp"
	if [ -z "$held" ] || [ "$held" = 0 ]; then
		log "run.sh: $t: could not hold sessions: $(tail -1 "$WORK/client.err")"
		fail "1 $t hold"
		return
	fi
	[ "$held" != "$IDLE" ] && log "run.sh: $t: held only $held of $IDLE sessions"
	log "run.sh: $t: $held idle sessions, relay RSS $before -> $after KiB, $fds descriptors open"
	add idle "$t" "$(calc "%.2f" "($after - $before) / $held")"
	add idleheld "$t" "$held"
	add idlefds "$t" "$fds"
}

# ------------------------------------------------------------------ table
median() {
	printf '%s\n' "$@" | grep -E '^-?[0-9]+(\.[0-9]+)?$' | sort -g | awk '
	    { a[NR] = $1 }
	    END { if (NR == 0) print "n/a"
		  else if (NR % 2) print a[(NR + 1) / 2]
		  else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
	    if (a ~ /^-?[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b
	    else printf "-" }'
}
cell() {	# METRIC TARGET
	[ -z "$2" ] && { echo "n/a"; return; }
	# shellcheck disable=SC2086
	median ${RES["$1 $2"]:-}
}
# Markdown table from tab-separated lines (first = header); "µ" counted as
# one column.
mdtable() {
	awk -F'\t' '
	    function w(s,  t) { t = s; return length(s) - gsub(/\302\265/, "", t) }
	    { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (w($i) > W[i]) W[i] = w($i) } if (NF > nf) nf = NF; nr = NR }
	    END {
		for (r = 1; r <= nr; r++) {
		    line = "|"
		    for (i = 1; i <= nf; i++) {
			s = c[r, i]; pad = W[i] - w(s); sp = sprintf("%" pad "s", "")
			line = line " " (i == 1 ? s sp : sp s) " |"
		    }
		    print line
		    if (r == 1) {
			line = "|"
			for (i = 1; i <= nf; i++) { d = sprintf("%" (W[i] + 2) "s", ""); gsub(/ /, "-", d); if (i > 1) sub(/-$/, ":", d); line = line d "|" }
			print line
		    }
		}
	    }'
}

# ================================================================ clients
if [ "$MODE" = clients ]; then
	for c in redis-server redis-benchmark ab iperf3 nginx; do
		command -v "$c" >/dev/null || die "$c is missing (apt-get install redis-server redis-tools apache2-utils iperf3 nginx)"
	done
	# redis
	p=$(pick_port)
	mkdir -p "$WORK/redis"
	redis-server --bind 127.0.0.1 --port "$p" --save '' --appendonly no \
	    --daemonize no --dir "$WORK/redis" --logfile "$WORK/redis/redis.log" &
	pid=$!; LIVE[$pid]=1
	wait_port "$p" "$pid" || die "redis-server did not start: $(tail -3 "$WORK/redis/redis.log")"
	BPORT[redis]=$p; BPID[redis]=$pid; BACKENDS+=(redis)
	# HTTP origin: its own nginx, one small static file, keep-alive
	p=$(pick_port)
	mkdir -p "$WORK/origin/html" "$WORK/origin/tmp"
	head -c 1024 /dev/zero | tr '\0' 'x' >"$WORK/origin/html/small.html"
	USERLINE=
	[ "$(id -u)" = 0 ] && USERLINE="user $(id -un) $(id -gn);"
	cat >"$WORK/origin/nginx.conf" <<EOF
$USERLINE
worker_processes 1;
pid $WORK/origin/nginx.pid;
error_log $WORK/origin/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/origin/tmp/body;
    proxy_temp_path $WORK/origin/tmp/proxy;
    fastcgi_temp_path $WORK/origin/tmp/fastcgi;
    uwsgi_temp_path $WORK/origin/tmp/uwsgi;
    scgi_temp_path $WORK/origin/tmp/scgi;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$p; root $WORK/origin/html; }
}
EOF
	nginx -p "$WORK/origin/" -c "$WORK/origin/nginx.conf" -e "$WORK/origin/error.log" -g 'daemon off;' \
	    >"$WORK/origin/stdout.log" 2>&1 &
	pid=$!; LIVE[$pid]=1
	wait_port "$p" "$pid" || die "nginx origin did not start: $(tail -3 "$WORK/origin/error.log")"
	BPORT[http]=$p; BPID[http]=$pid; BACKENDS+=(http)
	# iperf3 server (one test at a time, as the runs are sequential)
	p=$(pick_port)
	iperf3 -s -B 127.0.0.1 -p "$p" >"$WORK/iperf3.log" 2>&1 &
	pid=$!; LIVE[$pid]=1
	wait_port "$p" "$pid" || die "iperf3 did not start: $(tail -3 "$WORK/iperf3.log")"
	BPORT[iperf]=$p; BPID[iperf]=$pid; BACKENDS+=(iperf)
	sleep 0.2

	start_all r46s haps ngxs
	TARGETS=(direct "${INSTANCES[@]}")
	CTESTS=(redis_set_p1 redis_get_p1 redis_set_p16 redis_get_p16 ab iperf_up iperf_down)
	declare -A CLABEL=(
	    [redis_set_p1]="redis-benchmark SET, 50 conns, P1 (req/s)"
	    [redis_get_p1]="redis-benchmark GET, 50 conns, P1 (req/s)"
	    [redis_set_p16]="redis-benchmark SET, 50 conns, P16 (req/s)"
	    [redis_get_p16]="redis-benchmark GET, 50 conns, P16 (req/s)"
	    [ab]="ab -k -c 50, 1 KiB file (req/s)"
	    [iperf_up]="iperf3, client -> server (Gbit/s)"
	    [iperf_down]="iperf3 -R, server -> client (Gbit/s)"
	)
	cport() { if [ "$1" = direct ]; then echo "${BPORT[$2]}"; else echo "${LPORT["$1 $2"]}"; fi; }
	runc() {	# TARGET NAME CMD...: run bounded, output to stdout
		local t=$1 name=$2 out rc
		shift 2
		out=$(timeout "$LG_TIMEOUT" "$@" 2>&1)
		rc=$?
		if [ "$rc" != 0 ]; then
			fail "$rc $t $name"
			log "run.sh: $t: $name failed (exit $rc): $(tail -3 <<<"$out")"
			return 1
		fi
		echo "$out"
	}
	log "run.sh: work dir $WORK; clients mode; targets: ${TARGETS[*]}"
	for rep in $(seq 1 "$REPS"); do
		log "run.sh: run $rep/$REPS"
		for t in "${TARGETS[@]}"; do
			for pl in 1 16; do
				n=$CL_REDIS_N
				[ "$pl" = 16 ] && n=$((CL_REDIS_N * 10))
				if o=$(runc "$t" "redis P$pl" redis-benchmark -h 127.0.0.1 -p "$(cport "$t" redis)" \
				    -c 50 -n "$n" -P "$pl" -t set,get --csv); then
					add "redis_set_p$pl" "$t" "$(awk -F'"' '$2 == "SET" {print $4}' <<<"$o")"
					add "redis_get_p$pl" "$t" "$(awk -F'"' '$2 == "GET" {print $4}' <<<"$o")"
				fi
			done
			if o=$(runc "$t" ab ab -q -k -c 50 -n "$CL_AB_N" "http://127.0.0.1:$(cport "$t" http)/small.html"); then
				if grep -q '^Failed requests: *0$' <<<"$o" && grep -q '^Non-2xx responses' <<<"$o"; then
					fail "1 $t ab non-2xx"
				fi
				grep -q '^Failed requests: *0$' <<<"$o" || { fail "1 $t ab failed requests"; log "run.sh: $t: ab: $(grep -E '^(Failed|Non-2xx)' <<<"$o")"; }
				add ab "$t" "$(awk '/^Requests per second:/ {print $4}' <<<"$o")"
			fi
			for dir in up down; do
				RFLAG=()
				[ "$dir" = down ] && RFLAG=(-R)
				if o=$(runc "$t" "iperf3 $dir" iperf3 -c 127.0.0.1 -p "$(cport "$t" iperf)" \
				    -t "$CL_IPERF_SECS" -f g "${RFLAG[@]}"); then
					add "iperf_$dir" "$t" "$(awk '/receiver/ {for (i = 1; i <= NF; i++) if ($i == "Gbits/sec") print $(i - 1)}' <<<"$o" | tail -1)"
				fi
				sleep 0.1	# iperf3's server takes a moment between tests
			done
		done
	done
	has() { case " ${INSTANCES[*]} " in *" $1 "*) echo "$1" ;; esac; }
	R=$(has r46s); H=$(has haps); N=$(has ngxs)
	{
		echo
		echo "relay46 benchmark, real clients, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), Linux $(uname -r)"
		echo "relay46: $("$WORK/relay46" -V 2>&1 | head -1); $(haproxy -v 2>&1 | head -1 | awk '{print $1, $2, $3}'); nginx $(nginx -v 2>&1 | sed 's/.*version: //')"
		echo "$(redis-server --version | awk '{print $1, $2, $3}'); $(ab -V | head -1 | sed "s/This is //; s/, Version//; s/ <.*//"), $(iperf3 --version | head -1 | awk '{print $1, $2}')"
		echo "each relay as shipped (see the proxies mode header); median of $REPS runs;"
		echo "redis-benchmark -n $CL_REDIS_N (P1) / $((CL_REDIS_N * 10)) (P16); ab -n $CL_AB_N; iperf3 -t $CL_IPERF_SECS, 1 stream"
		echo "share = relay / direct (1.00 = as fast as no relay); relay46/haproxy = relay46's share / HAProxy's share"
		echo
		{
			printf 'test\tdirect\trelay46\thaproxy\tnginx\trelay46 share\thaproxy share\tnginx share\trelay46/haproxy\n'
			for m in "${CTESTS[@]}"; do
				d=$(cell "$m" direct); r=$(cell "$m" "$R"); h=$(cell "$m" "$H"); n=$(cell "$m" "$N")
				rs=$(ratio "$r" "$d"); hs=$(ratio "$h" "$d"); ns=$(ratio "$n" "$d")
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${CLABEL[$m]}" "$d" "$r" "$h" "$n" \
				    "$rs" "$hs" "$ns" "$(ratio "$r" "$h")"
			done
		} | mdtable
		echo
		if [ -s "$WORK/failures" ]; then
			echo "failed runs (exit code, target, test; medians use the other runs):"
			sed 's/^/  /' "$WORK/failures"
		fi
		echo "total time $(( $(date +%s) - T_START )) s"
	} | tee ${RESULTS:+"$RESULTS"}
	[ -s "$WORK/failures" ] && exit 1
	exit 0
fi

# ================================================================ proxies
start_lg_backend echo echo
start_lg_backend close close
start_lg_backend sink sink
start_lg_backend source source
ALL=(r46s haps ngxs r46e hape ngxe)

# Memory rows on fresh processes, REPS times: the slow reader first (its
# peak), then IDLE idle sessions.  A process that has had sessions keeps
# some of their memory for reuse, so each repetition starts new ones.
for rep in $(seq 1 "$REPS"); do
	log "run.sh: memory $rep/$REPS: slow reader ${SLOW_SECS}s at ${SLOW_KIBPS} KiB/s, then $IDLE idle sessions, per relay"
	start_all "${ALL[@]}"
	for t in "${INSTANCES[@]}"; do slow_reader "$t"; done
	for t in "${INSTANCES[@]}"; do idle_rss "$t"; done
	if [ "$rep" != "$REPS" ]; then
		for t in "${INSTANCES[@]}"; do stop_inst "$t"; done
		sleep 0.5
	fi
done
TARGETS=(direct "${INSTANCES[@]}")
log "run.sh: work dir $WORK; targets: ${TARGETS[*]}"
for rep in $(seq 1 "$REPS"); do
	log "run.sh: run $rep/$REPS (bulk ${TP_SECS}s x4, rr ${RR_SECS}s x4, short connections ${CR_SECS}s, per target)"
	for t in "${TARGETS[@]}"; do
		measure "$t"
	done
done
for t in "${INSTANCES[@]}"; do
	for p in ${PROCS[$t]}; do
		kill -0 "$p" 2>/dev/null || { log "run.sh: $t ($p) died during the run"; fail "1 $t died"; }
	done
done

ROWS=(bu1 bu1c bu8 bu8c bd1 bd1c bd8 bd8c
    rr1u_50 rr1u_99 rr1u_c rr50u_50 rr50u_99 rr50u_c
    rr1p_50 rr1p_99 rr1p_c rr50p_50 rr50p_99 rr50p_c
    cps cpsc cfail idle idleheld slow slowx)
declare -A LABEL=(
	[bu1]="bulk up (client->server), 1 stream: Gbit/s"
	[bu1c]="  relay CPU s/GiB"
	[bu8]="bulk up, 8 streams: Gbit/s"
	[bu8c]="  relay CPU s/GiB"
	[bd1]="bulk down (server->client), 1 stream: Gbit/s"
	[bd1c]="  relay CPU s/GiB"
	[bd8]="bulk down, 8 streams: Gbit/s"
	[bd8c]="  relay CPU s/GiB"
	[rr1u_50]="64 B req/resp, 1 conn, unpinned: p50 µs"
	[rr1u_99]="  p99 µs"
	[rr1u_c]="  relay CPU µs/request"
	[rr50u_50]="64 B req/resp, 50 conns, unpinned: p50 µs"
	[rr50u_99]="  p99 µs"
	[rr50u_c]="  relay CPU µs/request"
	[rr1p_50]="64 B req/resp, 1 conn, one CPU: p50 µs"
	[rr1p_99]="  p99 µs"
	[rr1p_c]="  relay CPU µs/request"
	[rr50p_50]="64 B req/resp, 50 conns, one CPU: p50 µs"
	[rr50p_99]="  p99 µs"
	[rr50p_c]="  relay CPU µs/request"
	[cps]="short connections ($CR_CONC at a time): conn/s"
	[cpsc]="  relay CPU µs/connection"
	[cfail]="  failed connections (sum of runs)"
	[idle]="$IDLE idle connections: KiB each"
	[idleheld]="  connections actually held"
	[slow]="slow reader: peak RSS growth KiB"
	[slowx]="  as a multiple of the relay's buffer"
)
table() {	# RELAY46-INST HAPROXY-INST NGINX-INST
	local m d r h n
	printf 'metric\tdirect\trelay46\thaproxy\tnginx\trelay46/haproxy\trelay46/direct\trelay46/nginx\n'
	for m in "${ROWS[@]}"; do
		d=$(cell "$m" direct); r=$(cell "$m" "$1"); h=$(cell "$m" "$2"); n=$(cell "$m" "$3")
		[ "$m" = cfail ] && { d=$(sum_of "$m" direct); r=$(sum_of "$m" "$1"); h=$(sum_of "$m" "$2"); n=$(sum_of "$m" "$3"); }
		[ "$d" = n/a ] && d=-
		case "$m" in
		cfail|idleheld) printf '%s\t%s\t%s\t%s\t%s\t-\t-\t-\n' "${LABEL[$m]}" "$d" "$r" "$h" "$n" ;;
		*) printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${LABEL[$m]}" "$d" "$r" "$h" "$n" \
		    "$(ratio "$r" "$h")" "$(ratio "$r" "$d")" "$(ratio "$r" "$n")" ;;
		esac
	done
}
sum_of() {	# METRIC TARGET
	[ -z "$2" ] && { echo "n/a"; return; }
	# shellcheck disable=SC2086
	printf '%s\n' ${RES["$1 $2"]:-} | awk '/^[0-9]+$/ { s += $1; n++ } END { if (n) print s; else print "n/a" }'
}
has() { case " ${INSTANCES[*]} " in *" $1 "*) echo "$1" ;; esac; }
conf_line() { [ -n "$(has "$1")" ] && echo "  $2: ${CONF[$1]}"; }

{
	echo
	echo "relay46 benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), Linux $(uname -r)"
	echo "relay46: $("$WORK/relay46" -V 2>&1 | head -1) ($RELAY46); $(haproxy -v 2>&1 | head -1 | awk '{print $1, $2, $3}'); nginx $(nginx -v 2>&1 | sed 's/.*version: //')"
	echo "median of $REPS runs; bulk ${TP_SECS}s, rr ${RR_SECS}s, short connections ${CR_SECS}s per run;"
	echo "one CPU = relay, client and backend all on CPU $PIN_CPU (taskset); relay CPU = utime+stime of its processes (/proc)"
	echo "relay46/X: above 1 is better for relay46 in Gbit/s and conn/s, worse in µs, s/GiB, KiB"
	echo
	echo "As shipped (package defaults):"
	conf_line r46s relay46; conf_line haps haproxy; conf_line ngxs nginx
	echo
	table "$(has r46s)" "$(has haps)" "$(has ngxs)" | mdtable
	echo
	echo "Equal footing ($THREADS thread/worker each, 64 KiB buffer per direction, no per-session log):"
	conf_line r46e relay46; conf_line hape haproxy; conf_line ngxe nginx
	echo
	table "$(has r46e)" "$(has hape)" "$(has ngxe)" | mdtable
	echo
	if [ -s "$WORK/failures" ]; then
		echo "failed runs (exit code, target, command; medians use the other runs):"
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
