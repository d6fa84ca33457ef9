#!/usr/bin/env bash
# bench/talking.sh [CALLS=2000] [HOLD_S]
#
# Talking callers: `vportal-harness load` runs CALLS callers, started at RATE per second (env, default 20),
# each a settled user logging in (examples/scenarios/settled_login.scenario: welcome, passcode, main menu) who
# then stays HOLD_S seconds at the main menu, speaking (RTP of a test signal; the harness sends silence
# frames in between, so RTP flows both ways all the time) and pressing `#` (repeat the menu) every ~3 s,
# and leaves with 9 and goodbye. Every prompt heard is checked. Reports the harness's figures (calls
# ok/failed, keys lost, call setup, `#` to the next prompt, RTP inter-arrival as the callers see it, server
# CPU and peak RSS over the whole run) and the server's CPU over the steady part only (every caller logged
# in, none gone), per call.
#
# Why not settled_login.scenario itself: it ends the call right after the main menu, about 3 s after the
# dial, so holding CALLS calls up with it would take CALLS/3 logins a second; each login is an argon2
# verification (about 20 ms of a core), and two cores do about 100 a second. The scenario written here is the
# same login followed by the hold, and it logs in once per call.
#
# HOLD_S defaults to the ramp (CALLS/RATE) + SETTLE_S + 20, which leaves a 15 s steady window.
#
# Why 20 callers a second: each login is an argon2 verification on the store's two threads at nice 10, and
# with 2,000 calls streaming both ways the machine leaves them little; at 50 a second the logins queued for
# 17 to 55 s (the login `#` to main menu), and in some runs callers waited more than 60 s for their menu.
#
# Environment: RATE (callers started per second, default 20: logins are argon2-bound), SETTLE_S (default 5,
# from the last caller's start to the window), SCENARIO (a scenario file to run instead of the one written
# here; then no steady window is measured unless HOLD_S is right for it), and those of lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CALLS=${1:-2000}
RATE=${RATE:-20}
SETTLE_S=${SETTLE_S:-5}
[[ $CALLS =~ ^[1-9][0-9]*$ && ${2:-1} =~ ^[1-9][0-9]*$ && $RATE =~ ^[1-9][0-9]*(\.[0-9]+)?$ && $SETTLE_S =~ ^[0-9]+$ ]] ||
	{
		echo "usage: bench/talking.sh [CALLS=2000] [HOLD_S]   (env RATE=20 SETTLE_S=5)" >&2
		exit 2
	}
HOLD_S=${2:-$(awk -v c="$CALLS" -v r="$RATE" -v s="$SETTLE_S" 'BEGIN { printf "%d", c / r + s + 20.999 }')}
RAMP_S=$(calc "$CALLS / $RATE")

bench_init talking
ensure_python
build
raise_nofile $((CALLS * 4 + 4096))
start_server # default timers: the callers press a key every few seconds

# The scenario: the login of settled_login.scenario, then the hold.
if [[ -n ${SCENARIO:-} ]]; then
	cp "$SCENARIO" "$WORK/talking.scenario"
else
	CYCLES=$((HOLD_S * 1000 / 3250))
	((CYCLES >= 1)) || CYCLES=1
	{
		echo "// Written by bench/talking.sh: a settled user (mailbox 1001) logs in, then stays at the main"
		echo "// menu about $HOLD_S s, speaking and pressing # (repeat) every ~3 s, then leaves."
		echo "from 5551001"
		echo "to 5558000"
		echo "timeout 60"
		echo
		echo "start welcome"
		echo "press 1357924#"
		echo "start main_menu within 60s"
		for ((i = 0; i < CYCLES; i++)); do
			echo "say 3000"
			echo "press #"
			echo "start main_menu within 2s"
		done
		echo "press 9"
		echo "expect goodbye"
		echo "expect hangup"
	} >"$WORK/talking.scenario"
fi

say "starting $CALLS callers at $RATE/s (about $(printf '%.0f' "$RAMP_S") s), each holding about $HOLD_S s after the login"
T0=$(now)
"$HARNESS" load --server "127.0.0.1:$SIP_PORT" --scenario "$WORK/talking.scenario" --calls "$CALLS" \
	--rate "$RATE" --server-pid "$SERVER_PID" --prompts "$REPO/prompts" --json \
	>"$WORK/harness.json" 2>"$WORK/harness.log" &
HARNESS_PID=$!
track "$HARNESS_PID"

# The steady window: from SETTLE_S after the last caller started (its login done) until the first caller
# leaves (it started at T0, logged in within about 2 s, and holds HOLD_S).
WINDOW=false
W_START=$(calc "$T0 + $RAMP_S + $SETTLE_S")
W_END=$(calc "$T0 + $HOLD_S")
if awk "BEGIN { exit !($W_END - $W_START >= ${MIN_WINDOW_S:-5}) }"; then
	WINDOW=true
	sleep "$(calc "$W_START - $(now)")"
	alive "$HARNESS_PID" || die "the harness ended before the steady window: $(tail -3 "$WORK/harness.log")"
	say "measuring the server's CPU with all callers in the call"
	measure_window "$W_END"
else
	say "no steady window: the ramp ($RAMP_S s) plus $SETTLE_S s leaves less than 5 s of the hold; raise HOLD_S or RATE for one"
fi

HARNESS_RC=0
wait "$HARNESS_PID" || HARNESS_RC=$?
server_alive_or_die "during the run"
PEAK_KIB=$(peak_rss_kib "$SERVER_PID")
[[ -s $WORK/harness.json ]] || die "the harness printed no report (exit $HARNESS_RC): $(tail -5 "$WORK/harness.log")"
REPORT=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$WORK/harness.json") ||
	die "the harness's report is not JSON (exit $HARNESS_RC)"
get() { python3 -c 'import json,sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("null" if v is None else round(v, 3) if isinstance(v, float) else v)' "$REPORT" "$1"; }
OK=$(get calls_ok)
FAILED=$(get calls_failed)
PRESSED=$(get digits_pressed)
LOST=$(get digits_lost)

PCT_PER_CALL=null
if [[ $WINDOW == true ]]; then
	PCT_PER_CALL=$(calc "$WIN_CPU / $WIN_SECONDS / $CALLS * 100")
fi

cat <<EOF

talking: $CALLS harness callers started at $RATE/s: login as 1001, then about $HOLD_S s at the main menu (speech, #)
  calls             $OK ok, $FAILED failed (harness exit $HARNESS_RC)
  keys lost         $LOST of $PRESSED pressed
  call setup        p50 $(get call_setup.p50_ms) ms, p99 $(get call_setup.p99_ms) ms
  # to next prompt  p50 $(get pound_to_prompt.p50_ms) ms, p99 $(get pound_to_prompt.p99_ms) ms ($(get pound_to_prompt.samples) samples)
  RTP - 20 ms       p50 $(get rtp_deviation.p50_ms) ms, p99 $(get rtp_deviation.p99_ms) ms, max $(get rtp_deviation.max_ms) ms (as the callers see it)
  server, whole run $(get server.cpu_seconds) s CPU = $(get server.cpu_cores) cores over $(get wall_seconds) s; peak RSS $(printf '%.1f' "$(mib "$PEAK_KIB")") MiB
EOF
if [[ $WINDOW == true ]]; then
	echo "  steady window     $(printf '%.1f' "$WIN_SECONDS") s: server $(printf '%.3f' "$WIN_CORES") cores, $(printf '%.4f' "$PCT_PER_CALL")% of one core per call; VmRSS $(printf '%.1f' "$(mib "$WIN_RSS_KIB")") MiB"
fi
echo "  targets           0 failed calls: $(met "$FAILED == 0 && $OK == $CALLS"); 0 lost keys: $(met "$LOST == 0")"
sed -n 's/^/  failure: /p' <(python3 -c 'import json,sys; [print(f) for f in json.loads(sys.argv[1]).get("failures", [])[:5]]' "$REPORT")
json_line bench=talking calls="$CALLS" hold_s="$HOLD_S" rate="$RATE" harness_exit="$HARNESS_RC" \
	calls_ok="$OK" calls_failed="$FAILED" digits_pressed="$PRESSED" digits_lost="$LOST" \
	window_s="${WIN_SECONDS:-null}" server_cores_in_window="${WIN_CORES:-null}" cpu_pct_per_call="$PCT_PER_CALL" \
	peak_rss_kib="$PEAK_KIB" harness:="$REPORT" \
	targets_met="$(truth "$FAILED == 0 && $OK == $CALLS && $LOST == 0")"
