#!/usr/bin/env bash
# bench/stream.sh [CALLS=4000] [HOLD_S=60]
#
# Streaming capacity: CALLS SIPp calls (PCMU + telephone-event offered, no RTP sent by the caller), started
# at RATE per second (env, default 250), each held HOLD_S seconds, then BYE. The portal plays its prompt to
# every call all the time (see stream_timers in lib.sh). Measures the server's CPU time over the steady part
# only (every call up, none ended yet) and reports it per call as a percentage of one core, and each media
# thread's share of it (how evenly the calls are spread over the threads); failed calls (SIPp's statistics:
# every call that did not complete counts); the server's peak RSS (VmHWM).
#
# Environment: RATE (calls started per second, default 250), PROMPT_GAP_MS (silence between two plays of the
# prompt, default 200), SETTLE_S (wait after the last call was placed before the window opens, default 3),
# and those of lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CALLS=${1:-4000}
HOLD_S=${2:-60}
RATE=${RATE:-250}
SETTLE_S=${SETTLE_S:-3}
[[ $CALLS =~ ^[1-9][0-9]*$ && $HOLD_S =~ ^[1-9][0-9]*$ && $RATE =~ ^[1-9][0-9]*$ ]] ||
	{
		echo "usage: bench/stream.sh [CALLS=4000] [HOLD_S=60]   (env RATE=250)" >&2
		exit 2
	}

bench_init stream
streaming_setup "$CALLS" "$HOLD_S"
RAMP_S=$(((CALLS + RATE - 1) / RATE))
say "placing $CALLS calls at $RATE/s (about $RAMP_S s), each held $HOLD_S s"
T_START=$(now)
sipp_start stream -sf "$BENCH_DIR/sipp/stream.xml" -inf "$WORK/callers.csv" -s 5558000 \
	-mp "$MEDIA_PORT" -d $((HOLD_S * 1000)) -r "$RATE" -m "$CALLS" -l "$CALLS" \
	-timeout $((RAMP_S + HOLD_S + 120))s -timeout_error
STREAM_SIPP=$SIPP_PID
sipp_wait_created "$WORK/stream.stat.csv" "$CALLS" $((RAMP_S * 3 + 60)) "$STREAM_SIPP"
sleep "$SETTLE_S"
FAILED_BEFORE=$(sipp_stat "$WORK/stream.stat.csv" "FailedCall(C)")
[[ ${FAILED_BEFORE:-0} -eq 0 ]] || say "warning: $FAILED_BEFORE calls failed during the ramp"

# The first call was placed at T_START and ends HOLD_S later: close the window 2 s before that.
say "measuring the server's CPU with all calls up"
SIPP_C0=$(cpu_ticks "$STREAM_SIPP" || echo 0)
DROPS0=$(udp_drops "$MEDIA_PORT")
measure_window "$(calc "$T_START + $HOLD_S - 2")"
DROPS1=$(udp_drops "$MEDIA_PORT")
SIPP_C1=$(cpu_ticks "$STREAM_SIPP" || echo 0)
RTP_PER_CALL=null
RTP_TEXT="- (no drop counter from ss)"
if [[ -n $DROPS0 && -n $DROPS1 ]]; then
	RTP_PER_CALL=$(calc "($DROPS1 - $DROPS0) / $WIN_SECONDS / $CALLS")
	RTP_TEXT="$(printf '%.1f' "$RTP_PER_CALL") packets/s per call in the window (50 = a frame every 20 ms)"
fi
SIPP_CORES=$(calc "($SIPP_C1 - $SIPP_C0) / $CLK_TCK / $WIN_SECONDS")
CURRENT=$(sipp_stat "$WORK/stream.stat.csv" "CurrentCall")

say "waiting for the calls to end"
sipp_wait "$STREAM_SIPP" $((HOLD_S + RAMP_S + 90))
sipp_summary stream "$CALLS" "$SIPP_EXIT"
server_alive_or_die "during the run"
PEAK_KIB=$(peak_rss_kib "$SERVER_PID")

PCT_PER_CALL=$(calc "$WIN_CPU / $WIN_SECONDS / $CALLS * 100")
cat <<EOF

stream: $CALLS SIPp calls held $HOLD_S s, placed at $RATE/s; the portal plays its prompt to each all along
  failed calls      $SIPP_FAILED of $CALLS (SIPp exit $SIPP_EXIT; retransmissions ${SIPP_RETRANS:-?})
  steady window     $(printf '%.1f' "$WIN_SECONDS") s, $CURRENT calls up (SIPp's count at its end)
  RTP to the calls  $RTP_TEXT
  server CPU        $(printf '%.2f' "$WIN_CPU") s = $(printf '%.3f' "$WIN_CORES") cores
  per call          $(printf '%.4f' "$PCT_PER_CALL")% of one core (target <= 0.04%: $(met "$PCT_PER_CALL <= 0.04"))
  media threads     $(media_threads_text)
  server memory     VmRSS $(printf '%.1f' "$(mib "$WIN_RSS_KIB")") MiB in the window, peak VmHWM $(printf '%.1f' "$(mib "$PEAK_KIB")") MiB
  SIPp CPU          $(printf '%.3f' "$SIPP_CORES") cores (same machine)
EOF
json_line bench=stream calls="$CALLS" hold_s="$HOLD_S" rate="$RATE" failed_calls="$SIPP_FAILED" \
	sipp_exit="$SIPP_EXIT" retransmissions="${SIPP_RETRANS:-null}" window_s="$WIN_SECONDS" \
	calls_up_in_window="${CURRENT:-null}" server_cpu_s="$WIN_CPU" server_cores="$WIN_CORES" \
	cpu_pct_per_call="$PCT_PER_CALL" rss_window_kib="$WIN_RSS_KIB" peak_rss_kib="$PEAK_KIB" \
	sipp_cores="$SIPP_CORES" rtp_pps_per_call="$RTP_PER_CALL" prompt_gap_ms="$FIRST_DIGIT_MS" \
	media_thread_cores:="$(media_threads_json)" \
	targets_met="$(truth "$SIPP_FAILED == 0 && $PCT_PER_CALL <= 0.04")"
