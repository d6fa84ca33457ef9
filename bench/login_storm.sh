#!/usr/bin/env bash
# bench/login_storm.sh [CALLERS=200] [BACKGROUND=1000]
#
# Login storm: BACKGROUND SIPp calls stream (as in bench/stream.sh), then CALLERS harness callers, each a
# different user with its own mailbox (created here with `vportal admin`), all press `#` at the end of their
# passcode at the same moment. Reports how many were answered and logged in, the `#` to next prompt p50/p99/
# max over all callers, how far apart the `#` keys really went out (from the capture), and the RTP pacing of
# the background calls during the storm (a capture on lo from 2 s before the `#` moment to TAIL_S after it).
#
# How the keys go out together: one `vportal-harness load --number-per-caller` process runs all the callers
# (caller i calls from 55520000 + i), started at LAUNCH_RATE per second; each hears the start of its welcome
# and then presses `PASSCODE#` with `at LEAD_S`, so every caller's `#` is due LEAD_S after the first caller
# started. The capture shows the spread actually achieved.
#
# The users: mailboxes 20000, 20001, ... called from 55520000, 55520001, ..., passcode 1357924 set as in their
# settings (no forced change). They have no recorded name, so the prompt after the passcode is
# must_record_name; the caller hangs up once it has heard it.
#
# Environment: RATE (background calls per second, default 250), LAUNCH_RATE (storm callers started per
# second, default 100), LEAD_S (from the first storm caller's start to the `#` moment; default
# CALLERS/LAUNCH_RATE + 2, at most 10 so that every caller's first key falls within its welcome), TAIL_S
# (capture after the `#` moment; default CALLERS/40 + 4), HOLD_S (background hold; default: long enough),
# and those of lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CALLERS=${1:-200}
BACKGROUND=${2:-1000}
RATE=${RATE:-250}
SETTLE_S=${SETTLE_S:-3}
LAUNCH_RATE=${LAUNCH_RATE:-100}
[[ $CALLERS =~ ^[1-9][0-9]*$ && $BACKGROUND =~ ^[0-9]+$ && $RATE =~ ^[1-9][0-9]*$ && $LAUNCH_RATE =~ ^[1-9][0-9]*$ ]] ||
	{
		echo "usage: bench/login_storm.sh [CALLERS=200] [BACKGROUND=1000]   (env RATE=250 LAUNCH_RATE=100 LEAD_S TAIL_S)" >&2
		exit 2
	}
LEAD_S=${LEAD_S:-$(((CALLERS + LAUNCH_RATE - 1) / LAUNCH_RATE + 2))}
((LEAD_S <= 10)) || LEAD_S=10
TAIL_S=${TAIL_S:-$((CALLERS / 40 + 4))}
PASSCODE=1357924
FIRST_MAILBOX=20000
RAMP_S=$(((BACKGROUND + RATE - 1) / RATE))
# The background calls must outlast the ramp, the users' creation does not count (it happens before), the
# storm (LEAD_S + TAIL_S) and the stragglers.
HOLD_S=${HOLD_S:-$((RAMP_S + SETTLE_S + LEAD_S + TAIL_S + 40))}

bench_init login_storm
ensure_sipp
ensure_tcpdump
ensure_python
build
raise_nofile $(((BACKGROUND + CALLERS) * 4 + 4096))

# ---- the users ----
say "creating $CALLERS users (mailboxes $FIRST_MAILBOX-$((FIRST_MAILBOX + CALLERS - 1)), passcode $PASSCODE)"
seed_data "$WORK/data"
admin() { "$VPORTAL" admin --data "$WORK/data" "$@"; }
admin policy set --initial-pin none >/dev/null || die "vportal admin policy set failed"
for ((i = 0; i < CALLERS; i++)); do
	mailbox=$((FIRST_MAILBOX + i))
	admin user add --mailbox "$mailbox" --number "555$mailbox" --extension "$mailbox" \
		--email "bench$mailbox@example.org" >/dev/null || die "vportal admin user add $mailbox failed"
	printf '%s\n' "$PASSCODE" | admin user set-pin "$mailbox" >/dev/null ||
		die "vportal admin user set-pin $mailbox failed"
done

# ---- the server and the background calls ----
stream_timers "$HOLD_S"
start_server
MEDIA_PORT=$(free_media_port)
if ((BACKGROUND > 0)); then
	sipp_callers "$WORK/callers.csv" 5551001
	say "placing $BACKGROUND background calls at $RATE/s, each held $HOLD_S s"
	sipp_start stream -sf "$BENCH_DIR/sipp/stream.xml" -inf "$WORK/callers.csv" -s 5558000 \
		-mp "$MEDIA_PORT" -d $((HOLD_S * 1000)) -r "$RATE" -m "$BACKGROUND" -l "$BACKGROUND" \
		-timeout $((RAMP_S + HOLD_S + 120))s -timeout_error
	STREAM_SIPP=$SIPP_PID
	sipp_wait_created "$WORK/stream.stat.csv" "$BACKGROUND" $((RAMP_S * 3 + 60)) "$STREAM_SIPP"
	sleep "$SETTLE_S"
fi

# ---- the storm ----
# wait_until_us T: sleeps until T (microseconds since the epoch).
wait_until_us() {
	local left=$(($1 - ${EPOCHREALTIME//[!0-9]/}))
	if ((left > 0)); then
		sleep "$(printf '%d.%06d' $((left / 1000000)) $((left % 1000000)))"
	fi
}
printf '%s\n' "// Written by bench/login_storm.sh: caller i is mailbox $FIRST_MAILBOX + i (--number-per-caller)." \
	"from 555$FIRST_MAILBOX" "to 5558000" "timeout 30" "start welcome" "press $PASSCODE# at ${LEAD_S}s" \
	"expect must_record_name within 30s" "hangup" >"$WORK/storm.scenario"
launch_us=${EPOCHREALTIME//[!0-9]/}
# The harness's clock starts when its first caller starts, a little after this (it loads the prompts first).
T_US=$((launch_us + LEAD_S * 1000000))
say "starting $CALLERS callers at $LAUNCH_RATE/s in one harness; every # due about $(date -d "@$((T_US / 1000000))" +%T) (in $LEAD_S s)"
"$HARNESS" load --server "127.0.0.1:$SIP_PORT" --scenario "$WORK/storm.scenario" --calls "$CALLERS" \
	--rate "$LAUNCH_RATE" --number-per-caller --prompts "$REPO/prompts" --json >"$WORK/storm.json" \
	2>"$WORK/storm.log" &
STORM_PID=$!
track $STORM_PID

# Capture from 2 s before the # moment: the server's RTP to the background calls, and the callers' RFC 4733
# packets to the server (payload type 101) to see when the # keys went out.
FILTER="udp and src host 127.0.0.1 and ((src portrange $RTP_MIN-$RTP_MAX and dst port $MEDIA_PORT) or (dst portrange $RTP_MIN-$RTP_MAX and (udp[9] & 0x7f) = 101))"
wait_until_us $((T_US - 2000000))
capture_start "$WORK/storm.pcap" "$FILTER"
# The server's UDP ports now, while every storm call is up: the # keys counted are those sent to them, not
# to another server that happens to use the same port range.
ss -uanp | awk -v p="pid=$SERVER_PID," 'index($0, p) { n = split($4, a, ":"); print a[n] }' >"$WORK/server_ports"
C0=$(cpu_ticks "$SERVER_PID")
W0=$(now)
wait_until_us $((T_US + TAIL_S * 1000000))
C1=$(cpu_ticks "$SERVER_PID")
W1=$(now)
capture_stop "$WORK/storm.pcap"
STORM_CORES=$(calc "($C1 - $C0) / $CLK_TCK / ($W1 - $W0)")

say "waiting for the storm callers to finish"
STORM_EXIT=0
wait "$STORM_PID" || STORM_EXIT=$?

# ---- figures ----
STORM=$(python3 - "$WORK/storm.json" "$CALLERS" <<'EOF'
import json, sys
path, callers = sys.argv[1], int(sys.argv[2])
with open(path) as f:
    report = json.load(f)
p = report["pound_to_prompt"]
print(json.dumps({"callers": callers, "answered": report["call_setup"]["samples"], "logged_in": report["calls_ok"],
                  "digits_pressed": report["digits_pressed"], "digits_lost": report["digits_lost"],
                  "pound_samples": p["samples"], "pound_p50_ms": round(p["p50_ms"], 1),
                  "pound_p99_ms": round(p["p99_ms"], 1), "pound_max_ms": round(p["max_ms"], 1),
                  "failures": report["failures"][:5]}))
EOF
) || die "the storm's report could not be read (harness exit $STORM_EXIT; see $WORK/storm.log)"
sget() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
KEYS=$(python3 "$BENCH_DIR/rtp_pacing.py" "$WORK/storm.pcap" --keys --dst-ports "$RTP_MIN-$RTP_MAX" \
	--dst-ports-file "$WORK/server_ports" --json) ||
	die "the capture could not be analysed"
PACING=null
if ((BACKGROUND > 0)); then
	PACING=$(python3 "$BENCH_DIR/rtp_pacing.py" "$WORK/storm.pcap" --src-ports "$RTP_MIN-$RTP_MAX" \
		--dst-ports "$MEDIA_PORT" --json) || die "the capture could not be analysed"
	say "waiting for the background calls to end"
	sipp_wait "$STREAM_SIPP" $((HOLD_S + RAMP_S + 90))
	sipp_summary stream "$BACKGROUND" "$SIPP_EXIT"
fi
server_alive_or_die "during the run"
PEAK_KIB=$(peak_rss_kib "$SERVER_PID")

ANSWERED=$(sget "$STORM" answered)
LOGGED_IN=$(sget "$STORM" logged_in)
P99=$(sget "$STORM" pound_p99_ms)
echo
echo "login storm: $CALLERS callers (distinct mailboxes) pressing # together, over $BACKGROUND streaming SIPp calls"
echo "  storm callers     $ANSWERED answered, $LOGGED_IN logged in (heard must_record_name) of $CALLERS; keys lost $(sget "$STORM" digits_lost) of $(sget "$STORM" digits_pressed)"
echo "  # to next prompt  p50 $(sget "$STORM" pound_p50_ms) ms, p99 $P99 ms, max $(sget "$STORM" pound_max_ms) ms ($(sget "$STORM" pound_samples) callers)"
echo "  # keys went out   $(sget "$KEYS" presses) presses within $(sget "$KEYS" spread_ms) ms first to last (median $(sget "$KEYS" p50_offset_ms) ms after the first)"
if ((BACKGROUND > 0)); then
	BG_P99=$(sget "$PACING" p99_ms)
	BG_MAX=$(sget "$PACING" max_ms)
	echo "  background RTP    p50 $(sget "$PACING" p50_ms) ms, p99 $BG_P99 ms, max $BG_MAX ms over $(sget "$PACING" pairs) pairs in $(sget "$PACING" streams) streams during the storm (tcpdump dropped $CAPTURE_DROPPED)"
	echo "  background calls  $SIPP_FAILED failed of $BACKGROUND (SIPp exit $SIPP_EXIT)"
fi
echo "  server            $(printf '%.3f' "$STORM_CORES") cores during the storm window; peak RSS $(printf '%.1f' "$(mib "$PEAK_KIB")") MiB"
python3 -c 'import json,sys; [print("  failure:", f) for f in json.loads(sys.argv[1])["failures"]]' "$STORM"
TARGETS="$ANSWERED == $CALLERS && $LOGGED_IN == $CALLERS"
if ((BACKGROUND > 0)); then
	TARGETS="$TARGETS && $SIPP_FAILED == 0 && $BG_P99 <= 20.5 && $BG_MAX <= 25"
fi
TARGET_TEXT="all answered and logged in: $(met "$ANSWERED == $CALLERS && $LOGGED_IN == $CALLERS")"
if ((BACKGROUND > 0)); then
	TARGET_TEXT="$TARGET_TEXT; background p99 <= 20.5 ms: $(met "$BG_P99 <= 20.5"), max <= 25 ms: $(met "$BG_MAX <= 25"), 0 failed: $(met "$SIPP_FAILED == 0")"
fi
echo "  targets           $TARGET_TEXT"
json_line bench=login_storm callers="$CALLERS" background="$BACKGROUND" lead_s="$LEAD_S" \
	planned_pound_at="$(calc "$T_US / 1000000")" \
	storm:="$STORM" keys:="$KEYS" background_pacing:="$PACING" \
	background_failed_calls="${SIPP_FAILED:-null}" sipp_exit="${SIPP_EXIT:-null}" \
	capture_dropped="$CAPTURE_DROPPED" server_cores_in_storm="$STORM_CORES" peak_rss_kib="$PEAK_KIB" \
	targets_met="$(truth "$TARGETS")"
