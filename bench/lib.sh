# shellcheck shell=bash disable=SC2034
# (SC2034: the globals set here are read by the scripts that source this file.)
# Shared functions of the bench/*.sh scripts. Source it (it is not run on its own):
#
#     source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It moves to the repository's root, so scripts run from anywhere. Everything a script starts is registered with
# `track` and stopped by the EXIT trap that `bench_init` installs; the temporary directory goes too (unless
# BENCH_KEEP=1, which keeps it for a look at the logs).
#
# Environment understood by every script:
#   CARGO_TARGET_DIR  where cargo builds (default: target/ of the repository), as cargo reads it
#   MEDIA_THREADS     the server's [media] threads (default: not written, so one per core)
#   VPORTAL_LOG       the server's log filter (default: error; the log is in the temporary directory)
#   BENCH_KEEP=1      keep the temporary directory (server log, SIPp statistics, captures)
#   BENCH_NO_BUILD=1  use the binaries as they are (the lead's full-scale runs build once, then run each script)

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
cd "$REPO" || exit 1

TARGET_DIR=${CARGO_TARGET_DIR:-target}
case $TARGET_DIR in
/*) ;;
*) TARGET_DIR=$REPO/$TARGET_DIR ;; # cargo reads a relative CARGO_TARGET_DIR from where it runs: here
esac
VPORTAL=$TARGET_DIR/release/vportal
HARNESS=$TARGET_DIR/release/vportal-harness

CLK_TCK=$(getconf CLK_TCK)
BENCH_NAME=bench
WORK=
BENCH_PIDS=()     # pids started by the script, stopped in reverse order on exit
SERVER_PID=
SIP_PORT=
RTP_MIN=${BENCH_RTP_MIN:-20000} # our own part of the RTP ports: other servers on this machine use 16384 up
RTP_MAX=${BENCH_RTP_MAX:-29999}

# ---- messages ----

say() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$BENCH_NAME" "$*" >&2
	exit 1
}

# ---- set-up and clean-up ----

# bench_init NAME: the name used in messages; a fresh temporary directory in $WORK; the EXIT trap.
bench_init() {
	BENCH_NAME=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/vportal-bench-$1.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# track PID: stop it on exit.
track() { BENCH_PIDS+=("$1"); }

alive() { kill -0 "$1" 2>/dev/null; }

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 10); reaps it when it is our child.
stop_pid() {
	local pid=$1 grace=${2:-10} i
	alive "$pid" || {
		wait "$pid" 2>/dev/null || true
		return 0
	}
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
	local status=$? i
	trap - EXIT INT TERM
	set +e
	for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${BENCH_PIDS[i]}" 10
	done
	if [[ -n $WORK && -d $WORK ]]; then
		if [[ ${BENCH_KEEP:-0} == 1 ]]; then
			say "kept $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$status"
}

# ---- tools ----

# need CMD PACKAGE: CMD on the PATH, installed from Debian's PACKAGE when we are root.
need() {
	local cmd=$1 package=$2
	command -v "$cmd" >/dev/null 2>&1 && return 0
	if [[ $(id -u) -ne 0 ]]; then
		die "$cmd is missing: install Debian's $package (apt-get install $package, as root), then run again"
	fi
	say "installing $package (for $cmd)"
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "$package"; } >&2 ||
		die "could not install $package"
	command -v "$cmd" >/dev/null 2>&1 || die "$cmd is still missing after installing $package"
}

ensure_sipp() { need sipp sip-tester; }
ensure_tcpdump() { need tcpdump tcpdump; }
ensure_python() { command -v python3 >/dev/null 2>&1 || die "python3 is missing"; }

# build: the release binaries of vportal and vportal-harness.
build() {
	if [[ ${BENCH_NO_BUILD:-0} == 1 ]]; then
		say "BENCH_NO_BUILD=1: using $VPORTAL as it is"
	else
		say "building (release) in $TARGET_DIR"
		cargo build --release --locked -p vportal -p portal-harness >&2 || die "the release build failed"
	fi
	[[ -x $VPORTAL ]] || die "$VPORTAL is missing"
	[[ -x $HARNESS ]] || die "$HARNESS is missing"
}

# raise_nofile N: the open-file limit of this shell and what it starts, to N (or as high as allowed).
raise_nofile() {
	local want=$1 hard
	hard=$(ulimit -Hn)
	if [[ $hard != unlimited && $hard -lt $want ]]; then
		ulimit -Hn "$want" 2>/dev/null || want=$hard
	fi
	ulimit -Sn "$want" || die "cannot raise the open-file limit to $want"
	[[ $want -ge $1 ]] || say "warning: open files limited to $want (wanted $1)"
}

# ---- numbers ----

now() { date +%s.%N; }

# calc EXPRESSION: floating-point arithmetic (awk), printed with 6 decimals.
calc() { awk "BEGIN { printf \"%.6f\n\", $1 }"; }

# cpu_ticks PID: utime + stime of PID, in clock ticks (/proc/PID/stat fields 14 and 15).
cpu_ticks() {
	local stat rest
	stat=$(<"/proc/$1/stat") || return 1
	rest=${stat##*) } # the command name (field 2) may hold spaces and parentheses: cut after the last ')'
	local -a f
	read -r -a f <<<"$rest"
	# f[0] is field 3 (state): utime (14) is f[11], stime (15) is f[12].
	echo $((f[11] + f[12]))
}

# media_thread_ticks PID: "TID NAME TICKS" for each media thread of PID (utime + stime from
# /proc/PID/task/TID/stat): the threads whose name starts with vportal-media (vportal-media0, vportal-media1, ...
# since the media threads were sharded; one vportal-media before).
media_thread_ticks() {
	local task name stat rest
	local -a f
	for task in /proc/"$1"/task/*; do
		name=$(cat "$task/comm" 2>/dev/null) || continue
		[[ $name == vportal-media* ]] || continue
		stat=$(cat "$task/stat" 2>/dev/null) || continue
		rest=${stat##*) }
		read -r -a f <<<"$rest"
		echo "${task##*/} $name $((f[11] + f[12]))"
	done
}

# thread_cores BEFORE AFTER SECONDS: "NAME CORES" for each thread in both media_thread_ticks snapshots (matched
# by TID), in the order of their names.
thread_cores() {
	{
		printf '%s\n' "$1"
		echo --
		printf '%s\n' "$2"
	} | awk -v secs="$3" -v tck="$CLK_TCK" '
		$0 == "--" { after = 1; next }
		NF != 3 { next }
		!after { t0[$1] = $3; next }
		$1 in t0 { printf "%s %.3f\n", $2, ($3 - t0[$1]) / tck / secs }' | sort -V
}

# cpu_seconds PID: utime + stime of PID in seconds.
cpu_seconds() {
	local ticks
	ticks=$(cpu_ticks "$1") || return 1
	calc "$ticks / $CLK_TCK"
}

# status_kib PID FIELD: a "kB" line of /proc/PID/status (VmHWM: the peak resident set; VmRSS: now).
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
peak_rss_kib() { status_kib "$1" VmHWM; }

# mib KIB
mib() { calc "$1 / 1024"; }

# json_line KEY=VALUE... : one JSON object on one line. A VALUE that reads as a number, true, false or null
# is written as such, anything else as a string; KEY:=JSON inserts JSON as it is.
json_line() {
	python3 - "$@" <<'EOF'
import json, sys
out = {}
for arg in sys.argv[1:]:
    key, _, value = arg.partition("=")
    if key.endswith(":"):
        out[key[:-1]] = json.loads(value)
        continue
    if value in ("true", "false", "null"):
        out[key] = json.loads(value)
        continue
    try:
        out[key] = int(value)
    except ValueError:
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
print(json.dumps(out))
EOF
}

# ---- ports ----

# free_port: a port free on 127.0.0.1 for UDP and TCP both (SIP listens on both).
free_port() {
	python3 - <<'EOF'
import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
else:
    raise SystemExit("no free port")
EOF
}

# free_media_port: a UDP port P with P+2 free too (SIPp binds its media port and the one 2 above).
free_media_port() {
	python3 - <<'EOF'
import random, socket
for _ in range(200):
    port = random.randrange(40000, 60000, 2)
    socks = []
    try:
        for p in (port, port + 1, port + 2, port + 3):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(port)
    break
else:
    raise SystemExit("no free port pair")
EOF
}

# ---- the server ----

# stream_timers HOLD_S: sets FIRST_DIGIT_MS and MAX_REPROMPTS so that a caller who never presses a key hears
# its prompt again and again for longer than HOLD_S and is not hung up on: the portal streams all the time
# (a prompt, PROMPT_GAP_MS of silence, the prompt again, up to 255 times), which is the load the streaming
# figures are about. The SIPp callers call from 5551001, so their prompt is `welcome` (9 s).
stream_timers() {
	local hold_s=$1 gap=${PROMPT_GAP_MS:-200} shortest_prompt_ms=3900 need
	# 255 repeats of the shortest prompt plus the gap must outlast the hold by 30 s.
	need=$(((hold_s + 30) * 1000 / 255 - shortest_prompt_ms))
	if ((need > gap)); then
		gap=$need
	fi
	FIRST_DIGIT_MS=$gap
	MAX_REPROMPTS=255
}

# streaming_setup CALLS HOLD_S: what stream.sh and pacing.sh do before placing their calls: the tools and the
# build, the file limit, the streaming timers, the server, SIPp's callers file and a free media port for SIPp
# (in MEDIA_PORT).
streaming_setup() {
	ensure_sipp
	ensure_python
	build
	raise_nofile $(($1 * 2 + 4096))
	stream_timers "$2"
	start_server
	sipp_callers "$WORK/callers.csv" 5551001
	MEDIA_PORT=$(free_media_port)
}

# write_config FILE: the server's configuration. SIP on 127.0.0.1:$SIP_PORT; the load source (loopback) is a
# trusted peer without a per-source INVITE limit; RTP ports $RTP_MIN-$RTP_MAX; the repository's prompts.
# Timers: FIRST_DIGIT_MS and MAX_REPROMPTS when set (see stream_timers), else the defaults.
write_config() {
	local file=$1
	{
		echo "# Written by bench/$BENCH_NAME.sh for one run."
		echo "[sip]"
		echo "listen = \"127.0.0.1:$SIP_PORT\""
		echo "trusted = [\"127.0.0.0/8\"]"
		echo "invite_rate_per_second = 0.0"
		echo
		echo "[rtp]"
		echo "port_min = $RTP_MIN"
		echo "port_max = $RTP_MAX"
		echo
		echo "[timers]"
		if [[ -n ${FIRST_DIGIT_MS:-} ]]; then
			echo "first_digit_ms = $FIRST_DIGIT_MS"
			echo "max_silent_reprompts = $MAX_REPROMPTS"
		fi
		echo
		echo "[media]"
		echo "prompts = \"$REPO/prompts\""
		if [[ -n ${STORE_THREADS:-} ]]; then
			echo "store_threads = $STORE_THREADS"
		fi
		if [[ -n ${MEDIA_THREADS:-} ]]; then
			echo "threads = $MEDIA_THREADS"
		fi
	} >"$file"
}

# sip_options_ok PORT: 0 when something answers a SIP OPTIONS on 127.0.0.1:PORT (UDP) within 0.5 s.
sip_options_ok() {
	python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(0.5)
me = s.getsockname()[1]
tag = time.time_ns()
s.sendto((f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
          f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKbench{tag}\r\n"
          f"From: <sip:bench@127.0.0.1:{me}>;tag={tag}\r\n"
          f"To: <sip:127.0.0.1:{port}>\r\n"
          f"Call-ID: bench{tag}@127.0.0.1\r\n"
          "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(), ("127.0.0.1", port))
sys.exit(0 if s.recv(4096).startswith(b"SIP/2.0 ") else 1)
EOF
}

# seed_data DIR: the demo data in DIR, without serving (`vportal console --demo` seeds, and hangs up at the
# end of its empty input). Only needed when a script changes the data before the server starts.
seed_data() {
	"$VPORTAL" console --data "$1" --demo </dev/null >"$WORK/seed.log" 2>&1 ||
		die "seeding the demo data failed: $(tail -3 "$WORK/seed.log")"
}

# start_server: `vportal serve --data $WORK/data --demo --config $WORK/vportal.toml` in the background, on a
# free SIP port, log in $WORK/server.log; waits until it answers OPTIONS (or says it listens). Sets
# SERVER_PID and SIP_PORT. Call write_config's inputs (FIRST_DIGIT_MS...) before.
start_server() {
	SIP_PORT=${SIP_PORT:-$(free_port)}
	write_config "$WORK/vportal.toml"
	VPORTAL_LOG=${VPORTAL_LOG:-error} "$VPORTAL" serve --data "$WORK/data" --demo \
		--config "$WORK/vportal.toml" >"$WORK/server.log" 2>&1 &
	SERVER_PID=$!
	track "$SERVER_PID"
	local i
	for ((i = 0; i < 300; i++)); do
		alive "$SERVER_PID" || die "the server stopped at start: $(tail -5 "$WORK/server.log")"
		if grep -q "SIP on" "$WORK/server.log" 2>/dev/null || sip_options_ok "$SIP_PORT"; then
			# A log line is printed just before the loop starts: make sure requests are answered.
			local j
			for ((j = 0; j < 50; j++)); do
				sip_options_ok "$SIP_PORT" && break
				sleep 0.1
			done
			say "server pid $SERVER_PID on 127.0.0.1:$SIP_PORT (RTP $RTP_MIN-$RTP_MAX), log $WORK/server.log"
			return 0
		fi
		sleep 0.1
	done
	die "the server did not answer within 30 s: $(tail -5 "$WORK/server.log")"
}

# server_alive_or_die WHAT
server_alive_or_die() {
	alive "$SERVER_PID" || die "the server died $1: $(tail -5 "$WORK/server.log")"
}

# ---- SIPp ----

# sipp_start NAME ARGS...: SIPp against the server in the background (its pid in SIPP_PID), no terminal,
# statistics every second in $WORK/NAME.stat.csv (-trace_stat), unexpected messages in $WORK/NAME.errors.log,
# the final screen in $WORK/NAME.screen.log. ARGS: the scenario and rates.
sipp_start() {
	local name=$1
	shift
	rm -f "$WORK/$name".*
	sipp "127.0.0.1:$SIP_PORT" -i 127.0.0.1 -mi 127.0.0.1 -nostdin -aa \
		-trace_stat -stf "$WORK/$name.stat.csv" -fd 1 \
		-trace_err -error_file "$WORK/$name.errors.log" \
		-trace_screen -screen_file "$WORK/$name.screen.log" \
		"$@" >"$WORK/$name.out" 2>&1 &
	SIPP_PID=$!
	track "$SIPP_PID"
}

# sipp_stat FILE COLUMN: COLUMN (a header name, e.g. "SuccessfulCall(C)") of the last complete line of a
# -trace_stat file; empty when there is none yet. Time columns hold "date<TAB>time<TAB>epoch": use
# sipp_stat_epoch for those.
sipp_stat() {
	[[ -s $1 ]] || return 0
	awk -F';' -v col="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; n = NF; next }
		NF >= n && c { v = $c }
		END { if (c) print v }' "$1"
}
sipp_stat_epoch() { sipp_stat "$1" "$2" | awk -F'\t' '{ print $NF }'; }

# sipp_wait PID SECONDS: waits for SIPp to end; sets SIPP_EXIT to its exit status (124 when it had to be
# stopped after SECONDS). Not in $(...): only this shell can reap its children.
sipp_wait() {
	local pid=$1 limit=$2 i
	SIPP_EXIT=0
	for ((i = 0; i < limit * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		say "SIPp still running after $limit s: stopping it"
		kill -INT "$pid" 2>/dev/null || true
		sleep 2
		stop_pid "$pid" 5
		SIPP_EXIT=124
		return 0
	fi
	wait "$pid" || SIPP_EXIT=$?
}

# sipp_wait_created FILE CALLS SECONDS PID: waits until SIPp has created CALLS calls (polls its statistics);
# dies when SIPp or the server stops first, or after SECONDS.
sipp_wait_created() {
	local file=$1 calls=$2 limit=$3 pid=$4 i created
	for ((i = 0; i < limit * 5; i++)); do
		created=$(sipp_stat "$file" "OutgoingCall(C)")
		[[ -n $created && $created -ge $calls ]] && return 0
		alive "$pid" || die "SIPp stopped after creating ${created:-0} of $calls calls: $(sipp_reason "${file%.stat.csv}")"
		server_alive_or_die "during the ramp"
		sleep 0.2
	done
	die "SIPp created only ${created:-0} of $calls calls in $limit s"
}

# sipp_reason PREFIX: why SIPp's calls failed or it stopped: how many events its error log holds, the first
# two (SIPp writes them without line breaks: split at each timestamp), and its last output lines.
sipp_reason() {
	local events
	events=$(sed -E 's/([0-9]{4}-[0-9]{2}-[0-9]{2}\t[0-9:.]+\t[0-9.]+: )/\n\1/g' "$1.errors.log" 2>/dev/null |
		grep -E '^[0-9]{4}-' | cut -f3-) || true
	if [[ -n $events ]]; then
		printf '%s error events, first: %s' "$(wc -l <<<"$events")" "$(head -n 2 <<<"$events" | tr '\n' ' ')"
	else
		grep -v '^\s*$' "$1.out" 2>/dev/null | tail -n 3 | tr -s ' \n' ' ' | cut -c1-300 || true
	fi
}

# sipp_callers FILE NUMBER: an injection file (-inf) whose every call comes from NUMBER.
sipp_callers() { printf 'SEQUENTIAL\n%s;\n' "$2" >"$1"; }

# sipp_summary NAME CALLS RC: sets SIPP_OK, SIPP_FAILED (CALLS minus the calls SIPp completed: failures,
# and calls it never placed or had to abandon), SIPP_FAILED_SIPP (SIPp's own FailedCall count), SIPP_RETRANS,
# from its final statistics line.
sipp_summary() {
	local file=$WORK/$1.stat.csv calls=$2 rc=$3
	SIPP_OK=$(sipp_stat "$file" "SuccessfulCall(C)")
	SIPP_OK=${SIPP_OK:-0}
	SIPP_FAILED=$((calls - SIPP_OK))
	if ((SIPP_FAILED < 0)); then
		SIPP_FAILED=0
	fi
	SIPP_FAILED_SIPP=$(sipp_stat "$file" "FailedCall(C)")
	SIPP_RETRANS=$(sipp_stat "$file" "Retransmissions(C)")
	# SIPp: 0 every call succeeded, 1 at least one failed, 97/99 stopped otherwise, 255/254 fatal.
	if [[ $rc -ne 0 && $SIPP_FAILED -eq 0 ]]; then
		say "warning: SIPp exited $rc although it counted $SIPP_OK successful calls of $calls"
	fi
	if [[ $SIPP_FAILED -gt 0 ]]; then
		say "SIPp: $SIPP_FAILED of $calls calls did not complete (its FailedCall: ${SIPP_FAILED_SIPP:-?}, exit $rc): $(sipp_reason "$WORK/$1")"
	fi
}

# udp_drops PORT: packets the kernel dropped at the UDP socket bound to 127.0.0.1:PORT because its buffer was
# full (`ss` skmem d). SIPp never reads its media socket, so once its buffer is full (within a second) this
# counts every RTP packet the portal sends to the SIPp calls: a check that they are streamed to.
udp_drops() {
	ss -uamn "sport = :$1" 2>/dev/null | grep -o 'd[0-9]*)' | tr -d 'd)' | head -n 1
}

# ---- capture ----

# capture_start FILE FILTER: tcpdump on lo in the background (CAPTURE_PID): first 96 bytes of each packet
# (headers up to RTP's), a 64 MiB kernel buffer; waits until it listens.
capture_start() {
	local file=$1 filter=$2 i
	tcpdump -i lo -n -s 96 -B 65536 -w "$file" "$filter" 2>"$file.log" &
	CAPTURE_PID=$!
	track "$CAPTURE_PID"
	for ((i = 0; i < 100; i++)); do
		grep -q "listening on" "$file.log" 2>/dev/null && return 0
		alive "$CAPTURE_PID" || die "tcpdump did not start: $(cat "$file.log")"
		sleep 0.1
	done
	die "tcpdump did not start listening: $(cat "$file.log")"
}

# capture_stop FILE: stops tcpdump; sets CAPTURE_DROPPED (packets the kernel dropped before tcpdump read them).
capture_stop() {
	kill -INT "$CAPTURE_PID" 2>/dev/null || true
	wait "$CAPTURE_PID" 2>/dev/null || true
	CAPTURE_DROPPED=$(awk '/dropped by kernel/ { print $1 }' "$1.log")
	CAPTURE_DROPPED=${CAPTURE_DROPPED:-0}
}

# ---- the steady window ----

# measure_window END_EPOCH: sleeps from now until END_EPOCH, measuring the server's CPU time over it.
# Sets WIN_SECONDS, WIN_CPU (server CPU seconds in the window), WIN_CORES, WIN_RSS_KIB (VmRSS at its end) and
# WIN_MEDIA_THREADS ("NAME CORES" a line, each media thread's CPU over the window; see thread_cores).
# Dies when the window would be shorter than MIN_WINDOW_S (default 5).
measure_window() {
	local end=$1 t0 t1 c0 c1 left m0 m1
	t0=$(now)
	left=$(calc "$end - $t0")
	if awk "BEGIN { exit !($left < ${MIN_WINDOW_S:-5}) }"; then
		die "the steady window would last only $left s: hold the calls longer or ramp faster"
	fi
	m0=$(media_thread_ticks "$SERVER_PID")
	c0=$(cpu_ticks "$SERVER_PID") || die "the server is gone"
	sleep "$left"
	c1=$(cpu_ticks "$SERVER_PID") || die "the server died during the measurement"
	m1=$(media_thread_ticks "$SERVER_PID")
	t1=$(now)
	WIN_RSS_KIB=$(status_kib "$SERVER_PID" VmRSS)
	WIN_SECONDS=$(calc "$t1 - $t0")
	WIN_CPU=$(calc "($c1 - $c0) / $CLK_TCK")
	WIN_CORES=$(calc "$WIN_CPU / $WIN_SECONDS")
	WIN_MEDIA_THREADS=$(thread_cores "$m0" "$m1" "$WIN_SECONDS")
}

# media_threads_text: WIN_MEDIA_THREADS on one line ("vportal-media0 0.412, vportal-media1 0.398 cores, sum
# 0.810"), or "-" when no media thread was found.
media_threads_text() {
	[[ -n $WIN_MEDIA_THREADS ]] || {
		echo "-"
		return 0
	}
	awk '{ sum += $2; list = list (NR > 1 ? ", " : "") $1 " " $2 } END { printf "%s cores, sum %.3f\n", list, sum }' \
		<<<"$WIN_MEDIA_THREADS"
}

# media_threads_json: WIN_MEDIA_THREADS as a JSON object {"vportal-media0": 0.412, ...}.
media_threads_json() {
	awk 'BEGIN { printf "{" } NF == 2 { printf "%s\"%s\": %s", (n++ ? ", " : ""), $1, $2 } END { print "}" }' \
		<<<"$WIN_MEDIA_THREADS"
}

# met CONDITION: "met" or "MISSED" (awk condition).
met() { awk "BEGIN { print (($1) ? \"met\" : \"MISSED\") }"; }
# truth CONDITION: true or false (awk condition), for JSON.
truth() { awk "BEGIN { print (($1) ? \"true\" : \"false\") }"; }
