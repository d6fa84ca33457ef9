#!/usr/bin/env bash
# bench/deposit.sh [DEPOSITS=500] [SPEECH_S=20] [STREAMS=1000]
#
# DEPOSITS callers leaving a message at once, each speaking SPEECH_S seconds, while STREAMS other calls stream:
# does every frame sent reach the stored WAV, and does the pacing of the other calls stay as it was?
#
# 1. The demo data, with the mailbox quota raised so every message fits (`vportal admin policy set
#    --mailbox-quota-messages QUOTA_MESSAGES --mailbox-quota-minutes 6000`, default 1000 messages), then the
#    server as for bench/stream.sh (loopback a trusted peer, the streaming timers).
# 2. STREAMS SIPp calls (bench/sipp/stream.xml, at RATE per second, default 250) that only listen, held to the end.
# 3. Baseline: CAPTURE_S seconds (default 10) of the server's RTP to those calls (tcpdump, as bench/pacing.sh),
#    and the server's CPU over the same seconds.
# 4. A second SIPp places DEPOSITS calls at DEPOSIT_RATE per second (default 1000: all within half a second),
#    bench/sipp/deposit.xml: a trusted PBX forwards to 5558000 a call 5551001 did not answer (Diversion), the
#    caller listens to the greeting for 10.5 s, speaks speech.pcap (SPEECH_S s of PCMU written by
#    bench/deposit_audio.py: every 20 ms frame unique and loud) and hangs up BYE_AFTER_MS (default 400) after
#    its last frame was due.
#    Two more captures of CAPTURE_S seconds each: "speaking" (starting 3 s after the speech of the last call
#    placed began) and "hanging up" (from 1 s before the first BYE: the recordings end and are stored).
# 5. Messages stored (`vportal admin user messages 1001`, those from the bench's callers), and each stored WAV
#    matched 20 ms block by block against the frames sent (deposit_audio.py check): frames missing, and where
#    (head, middle, tail), blocks of silence the portal put in for gaps, each WAV's length against SPEECH_S.
#
# Environment: RATE, DEPOSIT_RATE, BYE_AFTER_MS, CAPTURE_S, SETTLE_S (default 3), QUOTA_MESSAGES, PROMPT_GAP_MS and those of
# lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEPOSITS=${1:-500}
SPEECH_S=${2:-20}
STREAMS=${3:-1000}
RATE=${RATE:-250}
DEPOSIT_RATE=${DEPOSIT_RATE:-1000}
CAPTURE_S=${CAPTURE_S:-10}
SETTLE_S=${SETTLE_S:-3}
QUOTA_MESSAGES=${QUOTA_MESSAGES:-$((DEPOSITS + 500 > 1000 ? DEPOSITS + 500 : 1000))}
GREETING_MS=10500 # bench/sipp/deposit.xml's pause before the speech
BYE_AFTER_MS=${BYE_AFTER_MS:-400} # from the speech's last frame (as scheduled) to the BYE
[[ $DEPOSITS =~ ^[1-9][0-9]*$ && $SPEECH_S =~ ^[1-9][0-9]*$ && $STREAMS =~ ^[1-9][0-9]*$ &&
	$RATE =~ ^[1-9][0-9]*$ && $DEPOSIT_RATE =~ ^[1-9][0-9]*$ && $CAPTURE_S =~ ^[1-9][0-9]*$ ]] ||
	{
		echo "usage: bench/deposit.sh [DEPOSITS=500] [SPEECH_S=20] [STREAMS=1000]   (env RATE=250 DEPOSIT_RATE=1000 CAPTURE_S=10)" >&2
		exit 2
	}
((QUOTA_MESSAGES <= 10000)) || die "QUOTA_MESSAGES over 10000 (the most a quota may be)"

RAMP_S=$(((STREAMS + RATE - 1) / RATE))
DEP_RAMP_S=$(((DEPOSITS + DEPOSIT_RATE - 1) / DEPOSIT_RATE))
DEP_CALL_S=$((GREETING_MS / 1000 + 1 + SPEECH_S + BYE_AFTER_MS / 1000 + 1)) # ACK to BYE, rounded up
# The streaming calls outlast everything: ramp, settle, baseline, the deposits and their hang-up capture.
HOLD_S=${HOLD_S:-$((RAMP_S + SETTLE_S + CAPTURE_S + 2 + DEP_RAMP_S + DEP_CALL_S + CAPTURE_S + 20))}

bench_init deposit
ensure_tcpdump
ensure_sipp
ensure_python
build
raise_nofile $(((STREAMS + DEPOSITS) * 2 + 4096))
stream_timers "$HOLD_S"
seed_data "$WORK/data"
"$VPORTAL" admin --data "$WORK/data" policy set --mailbox-quota-messages "$QUOTA_MESSAGES" \
	--mailbox-quota-minutes 6000 >/dev/null || die "vportal admin policy set failed"
start_server
sipp_callers "$WORK/callers.csv" 5551001
MEDIA_PORT=$(free_media_port)
DEP_MEDIA_PORT=$(free_media_port)
while [[ $DEP_MEDIA_PORT == "$MEDIA_PORT" ]]; do DEP_MEDIA_PORT=$(free_media_port); done
FRAMES=$(python3 "$BENCH_DIR/deposit_audio.py" gen --seconds "$SPEECH_S" --out "$WORK/speech.pcap") ||
	die "could not write the speech pcap"

say "placing $STREAMS streaming calls at $RATE/s (about $RAMP_S s), each held $HOLD_S s"
sipp_start stream -sf "$BENCH_DIR/sipp/stream.xml" -inf "$WORK/callers.csv" -s 5558000 \
	-mp "$MEDIA_PORT" -d $((HOLD_S * 1000)) -r "$RATE" -m "$STREAMS" -l "$STREAMS" \
	-timeout $((RAMP_S + HOLD_S + 120))s -timeout_error
STREAM_SIPP=$SIPP_PID
sipp_wait_created "$WORK/stream.stat.csv" "$STREAMS" $((RAMP_S * 3 + 60)) "$STREAM_SIPP"
sleep "$SETTLE_S"

FILTER="udp and src host 127.0.0.1 and src portrange $RTP_MIN-$RTP_MAX and dst port $MEDIA_PORT"

# capture NAME START_EPOCH: waits until START_EPOCH (if still ahead), captures CAPTURE_S s of the server's RTP
# to the streaming calls into $WORK/NAME.pcap, measuring the server's CPU over it. Sets
# CAP_CORES and CAP_DROPPED (see pacing for the analysis).
capture() {
	local name=$1 start=$2 wait c0 c1 w0 w1
	wait=$(calc "$start - $(now)")
	if awk "BEGIN { exit !($wait > 0) }"; then sleep "$wait"; fi
	server_alive_or_die "before the $name capture"
	say "capture '$name': $CAPTURE_S s of the server's RTP to the streaming calls"
	capture_start "$WORK/$name.pcap" "$FILTER"
	c0=$(cpu_ticks "$SERVER_PID")
	w0=$(now)
	sleep "$CAPTURE_S"
	c1=$(cpu_ticks "$SERVER_PID")
	w1=$(now)
	capture_stop "$WORK/$name.pcap"
	CAP_DROPPED=$CAPTURE_DROPPED
	CAP_CORES=$(calc "($c1 - $c0) / $CLK_TCK / ($w1 - $w0)")
}
# pacing NAME: rtp_pacing.py's JSON for $WORK/NAME.pcap, which it then deletes (large). Run after the load, so
# the analysis takes no CPU from a measurement.
pacing() {
	python3 "$BENCH_DIR/rtp_pacing.py" "$WORK/$1.pcap" --src-ports "$RTP_MIN-$RTP_MAX" \
		--dst-ports "$MEDIA_PORT" --json || die "the $1 capture could not be analysed"
	rm -f "$WORK/$1.pcap"
}
# server_socket_drops: packets the kernel dropped at the server's RTP sockets (the ports in RTP_MIN-RTP_MAX on
# 127.0.0.1; `ss` skmem d, summed) because a receive buffer was full: deposit audio that never reached the
# portal. Only sockets open at the time count.
server_socket_drops() {
	ss -uamn "( sport >= :$RTP_MIN and sport <= :$RTP_MAX )" 2>/dev/null |
		grep -o 'd[0-9]*)' | tr -d 'd)' | awk '{ s += $1 } END { print s + 0 }'
}
pfield() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

DROPS_BASE=$(server_socket_drops)
capture baseline "$(now)"
BASE_CORES=$CAP_CORES BASE_DROPPED=$CAP_DROPPED

say "placing $DEPOSITS deposits at $DEPOSIT_RATE/s, each speaking $SPEECH_S s ($FRAMES frames) after a ${GREETING_MS} ms greeting"
cd "$WORK" # SIPp plays speech.pcap from its working directory
T_DEP=$(now)
sipp_start deposit -sf "$BENCH_DIR/sipp/deposit.xml" -s 5558000 -mp "$DEP_MEDIA_PORT" \
	-d $((SPEECH_S * 1000 + BYE_AFTER_MS)) -r "$DEPOSIT_RATE" -m "$DEPOSITS" -l "$DEPOSITS" \
	-timeout $((DEP_RAMP_S + DEP_CALL_S + 120))s -timeout_error
DEP_SIPP=$SIPP_PID
cd "$REPO"
DEP_C0=$(cpu_ticks "$SERVER_PID")
sipp_wait_created "$WORK/deposit.stat.csv" "$DEPOSITS" $((DEP_RAMP_S * 3 + 30)) "$DEP_SIPP"
T_DEP_CREATED=$(now)
say "all $DEPOSITS deposits placed in $(printf '%.2f' "$(calc "$T_DEP_CREATED - $T_DEP")") s"

# Speaking: from 3 s after the last call's speech began; hanging up: from 1 s before the first BYE.
capture speaking "$(calc "$T_DEP_CREATED + $GREETING_MS / 1000 + 3")"
SPEAK_CORES=$CAP_CORES SPEAK_DROPPED=$CAP_DROPPED
DROPS_SPEAK=$(server_socket_drops)
capture hangup "$(calc "$T_DEP + $GREETING_MS / 1000 + $SPEECH_S + $BYE_AFTER_MS / 1000 - 1")"
HANG_CORES=$CAP_CORES HANG_DROPPED=$CAP_DROPPED

say "waiting for the deposits to end"
sipp_wait "$DEP_SIPP" $((DEP_CALL_S + 90))
DEP_C1=$(cpu_ticks "$SERVER_PID")
T_DEP_END=$(now)
DEP_EXIT=$SIPP_EXIT
sipp_summary deposit "$DEPOSITS" "$DEP_EXIT"
DEP_OK=$SIPP_OK DEP_FAILED=$SIPP_FAILED DEP_RETRANS=${SIPP_RETRANS:-null}
DEP_RUN_CORES=$(calc "($DEP_C1 - $DEP_C0) / $CLK_TCK / ($T_DEP_END - $T_DEP)")

# The messages: wait until the count stops changing (the store writes them after the hang-ups).
count_messages() {
	"$VPORTAL" admin --data "$WORK/data" user messages 1001 |
		python3 -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin) if (m.get("from") or "").startswith("55530")))'
}
STORED=$(count_messages) || die "vportal admin user messages failed"
for ((i = 0; i < 30 && STORED < DEPOSITS; i++)); do
	sleep 1
	LAST=$STORED
	STORED=$(count_messages) || die "vportal admin user messages failed"
	[[ $STORED -ne $LAST || $i -lt 5 ]] || break
done
say "$STORED messages stored; matching each against the frames sent"
AUDIO=$(python3 "$BENCH_DIR/deposit_audio.py" check --data "$WORK/data" --seconds "$SPEECH_S" \
	--caller-prefix 55530 --vportal "$VPORTAL") || die "the stored messages could not be checked"
afield() { pfield "$AUDIO" "$1"; }

say "analysing the captures"
BASE_PACING=$(pacing baseline)
SPEAK_PACING=$(pacing speaking)
HANG_PACING=$(pacing hangup)

say "waiting for the streaming calls to end"
sipp_wait "$STREAM_SIPP" $((HOLD_S + RAMP_S + 90))
sipp_summary stream "$STREAMS" "$SIPP_EXIT"
STREAM_EXIT=$SIPP_EXIT
server_alive_or_die "during the run"
PEAK_KIB=$(peak_rss_kib "$SERVER_PID")

pacing_line() { # JSON
	printf 'p50 %s ms, p99 %s ms, max %s ms; %s pairs over 25 ms (%s streams, %s pairs; tcpdump dropped %s)' \
		"$(pfield "$1" p50_ms)" "$(pfield "$1" p99_ms)" "$(pfield "$1" max_ms)" "$(pfield "$1" over_25ms)" \
		"$(pfield "$1" streams)" "$(pfield "$1" pairs)" "$2"
}
MISSING=$(afield frames_missing)
WORST=$(python3 -c 'import json,sys; print("; ".join(json.loads(sys.argv[1])["worst"]) or "-")' "$AUDIO")

cat <<EOF

deposit: $DEPOSITS callers leaving a message at once (placed at $DEPOSIT_RATE/s), each speaking $SPEECH_S s, over $STREAMS streaming calls
  deposits          $DEP_OK ok, $DEP_FAILED failed (SIPp exit $DEP_EXIT; retransmissions $DEP_RETRANS)
  messages stored   $(afield messages) of $DEPOSITS (mailbox 1001 lists $(afield messages_listed) in all)
  frames            $(afield frames_found) of $(afield frames_expected) sent found in the stored WAVs; missing $MISSING (head $(afield missing_head), middle $(afield missing_middle), tail $(afield missing_tail)); duplicates $(afield duplicates), out of order $(afield out_of_order), silence blocks inside $(afield zero_blocks_inside), unmatched samples $(afield unmatched_samples)
  server sockets    $((DROPS_SPEAK - DROPS_BASE)) packets dropped by the kernel at the server's RTP sockets (receive buffer full), from the baseline to the end of the speaking capture
  messages          $(afield messages_complete) complete, $(afield messages_missing_frames) with frames missing, $(afield unreadable) unreadable; WAV length min/median/max $(afield wav_s_min)/$(afield wav_s_median)/$(afield wav_s_max) s for $SPEECH_S s sent
  worst             $WORST
  streaming calls   $SIPP_FAILED of $STREAMS failed (SIPp exit $STREAM_EXIT)
  pacing, baseline  $(pacing_line "$BASE_PACING" "$BASE_DROPPED")
  pacing, speaking  $(pacing_line "$SPEAK_PACING" "$SPEAK_DROPPED")
  pacing, hang-up   $(pacing_line "$HANG_PACING" "$HANG_DROPPED")
  server CPU        $(printf '%.3f' "$BASE_CORES") cores baseline, $(printf '%.3f' "$SPEAK_CORES") speaking, $(printf '%.3f' "$HANG_CORES") hanging up (each over its ${CAPTURE_S} s capture, tcpdump running); $(printf '%.3f' "$DEP_RUN_CORES") from the first deposit to the last one's end
  server peak RSS   $(printf '%.1f' "$(mib "$PEAK_KIB")") MiB (VmHWM)
EOF
json_line bench=deposit deposits="$DEPOSITS" speech_s="$SPEECH_S" streams="$STREAMS" deposit_rate="$DEPOSIT_RATE" \
	deposits_ok="$DEP_OK" deposits_failed="$DEP_FAILED" deposit_sipp_exit="$DEP_EXIT" \
	messages_stored="$(afield messages)" frames_missing="$MISSING" audio:="$AUDIO" \
	server_socket_drops="$((DROPS_SPEAK - DROPS_BASE))" \
	stream_failed="$SIPP_FAILED" stream_sipp_exit="$STREAM_EXIT" capture_s="$CAPTURE_S" \
	pacing_baseline:="$BASE_PACING" pacing_speaking:="$SPEAK_PACING" pacing_hangup:="$HANG_PACING" \
	server_cores_baseline="$BASE_CORES" server_cores_speaking="$SPEAK_CORES" server_cores_hangup="$HANG_CORES" \
	server_cores_deposits="$DEP_RUN_CORES" peak_rss_kib="$PEAK_KIB" \
	targets_met="$(truth "$DEP_FAILED == 0 && $(afield messages) == $DEPOSITS && $MISSING == 0 && $SIPP_FAILED == 0")"
