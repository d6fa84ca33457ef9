#!/usr/bin/env bash
# bench/pacing.sh [CALLS=1000]
#
# RTP pacing under streaming load: the load of bench/stream.sh (CALLS SIPp calls that only listen, the
# portal playing its prompt to each all along), and once every call is up, a capture on lo (tcpdump) of the
# RTP the server sends to them, for CAPTURE_S seconds. bench/rtp_pacing.py then takes every pair of
# consecutive packets of a stream (source address, port and SSRC; sequence +1, timestamp +160) and reports
# the inter-arrival p50/p99/max. Also reports failed calls, the server's CPU over the capture window and its
# peak RSS (VmHWM).
#
# Environment: RATE (calls per second, default 250), CAPTURE_S (default 5), HOLD_S (how long each call is
# held; default: long enough for the ramp, SETTLE_S and the capture), SETTLE_S (default 3), PROMPT_GAP_MS,
# and those of lib.sh. Needs tcpdump (installed with apt-get when run as root).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CALLS=${1:-1000}
RATE=${RATE:-250}
CAPTURE_S=${CAPTURE_S:-5}
SETTLE_S=${SETTLE_S:-3}
[[ $CALLS =~ ^[1-9][0-9]*$ && $RATE =~ ^[1-9][0-9]*$ && $CAPTURE_S =~ ^[1-9][0-9]*$ ]] ||
	{
		echo "usage: bench/pacing.sh [CALLS=1000]   (env RATE=250 CAPTURE_S=5 HOLD_S=...)" >&2
		exit 2
	}
RAMP_S=$(((CALLS + RATE - 1) / RATE))
HOLD_S=${HOLD_S:-$((RAMP_S + SETTLE_S + CAPTURE_S + 15))}

bench_init pacing
ensure_tcpdump
streaming_setup "$CALLS" "$HOLD_S"
say "placing $CALLS calls at $RATE/s (about $RAMP_S s), each held $HOLD_S s"
T_START=$(now)
sipp_start stream -sf "$BENCH_DIR/sipp/stream.xml" -inf "$WORK/callers.csv" -s 5558000 \
	-mp "$MEDIA_PORT" -d $((HOLD_S * 1000)) -r "$RATE" -m "$CALLS" -l "$CALLS" \
	-timeout $((RAMP_S + HOLD_S + 120))s -timeout_error
STREAM_SIPP=$SIPP_PID
sipp_wait_created "$WORK/stream.stat.csv" "$CALLS" $((RAMP_S * 3 + 60)) "$STREAM_SIPP"
sleep "$SETTLE_S"
# The capture must end before the first call does.
if awk "BEGIN { exit !($(now) + $CAPTURE_S + 1 > $T_START + $HOLD_S) }"; then
	die "the calls are ending already (the ramp took longer than planned): set HOLD_S higher"
fi

# RTP the server sends to the SIPp calls: from our RTP ports to SIPp's media port. Other servers and tests
# on this machine use other ports, so the filter keeps only this run's packets.
FILTER="udp and src host 127.0.0.1 and src portrange $RTP_MIN-$RTP_MAX and dst port $MEDIA_PORT"
say "capturing $CAPTURE_S s of the server's RTP ($FILTER)"
capture_start "$WORK/rtp.pcap" "$FILTER"
C0=$(cpu_ticks "$SERVER_PID")
W0=$(now)
sleep "$CAPTURE_S"
C1=$(cpu_ticks "$SERVER_PID")
W1=$(now)
capture_stop "$WORK/rtp.pcap"
CAPTURE_CORES=$(calc "($C1 - $C0) / $CLK_TCK / ($W1 - $W0)")
CURRENT=$(sipp_stat "$WORK/stream.stat.csv" "CurrentCall")

say "analysing the capture ($(du -h "$WORK/rtp.pcap" | cut -f1)); waiting for the calls to end"
PACING=$(python3 "$BENCH_DIR/rtp_pacing.py" "$WORK/rtp.pcap" --src-ports "$RTP_MIN-$RTP_MAX" \
	--dst-ports "$MEDIA_PORT" --json) || die "the capture could not be analysed"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$PACING" "$1"; }
P50=$(field p50_ms)
P99=$(field p99_ms)
MAX=$(field max_ms)
PAIRS=$(field pairs)
STREAMS=$(field streams)
OVER=$(field over_25ms)
[[ $PAIRS -gt 0 ]] || die "the capture holds no consecutive RTP packets from the server (filter: $FILTER)"

sipp_wait "$STREAM_SIPP" $((HOLD_S + RAMP_S + 90))
sipp_summary stream "$CALLS" "$SIPP_EXIT"
server_alive_or_die "during the run"
PEAK_KIB=$(peak_rss_kib "$SERVER_PID")
PEAK_MIB=$(mib "$PEAK_KIB")

cat <<EOF

pacing: $CALLS SIPp calls held $HOLD_S s, placed at $RATE/s; $CAPTURE_S s of the server's RTP captured with all up
  failed calls      $SIPP_FAILED of $CALLS (SIPp exit $SIPP_EXIT; retransmissions ${SIPP_RETRANS:-?})
  capture           $STREAMS streams ($CURRENT calls up), $PAIRS consecutive pairs; tcpdump dropped $CAPTURE_DROPPED
  inter-arrival     p50 $P50 ms, p99 $P99 ms (target <= 20.5: $(met "$P99 <= 20.5")), max $MAX ms (target <= 25: $(met "$MAX <= 25")); $OVER pairs over 25 ms
  server CPU        $(printf '%.3f' "$CAPTURE_CORES") cores during the capture (tcpdump running)
  server peak RSS   $(printf '%.1f' "$PEAK_MIB") MiB (VmHWM; target <= 150 MiB at 1,000 calls: $(met "$PEAK_MIB <= 150"))
EOF
json_line bench=pacing calls="$CALLS" hold_s="$HOLD_S" rate="$RATE" failed_calls="$SIPP_FAILED" \
	sipp_exit="$SIPP_EXIT" capture_s="$CAPTURE_S" capture_dropped="$CAPTURE_DROPPED" pacing:="$PACING" \
	server_cores_in_capture="$CAPTURE_CORES" peak_rss_kib="$PEAK_KIB" \
	targets_met="$(truth "$SIPP_FAILED == 0 && $P99 <= 20.5 && $MAX <= 25 && $PEAK_MIB <= 150")"
