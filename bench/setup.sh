#!/usr/bin/env bash
# bench/setup.sh [RATE=1000] [SECONDS=60]
#
# Call setup rate: SIPp places RATE calls per second for SECONDS seconds (RATE x SECONDS calls in all), each
# INVITE (PCMU + telephone-event), 200, ACK, then BYE after BYE_AFTER_MS (default 300) and its 200.
# Reports failed calls (every call that did not complete), the rate SIPp actually achieved, the mean INVITE-to-200
# time SIPp saw, and the server's CPU while calls were being placed (per call and in cores).
#
# Why a pause of 300 ms before the BYE, not none: a call that is answered starts its media at once (the
# portal looks the caller up and starts the welcome prompt), and that start is part of what every real call
# costs at setup; 300 ms lets it happen for every call (about 15 RTP frames each) while keeping the calls
# short, so about RATE x 0.3 calls are up at any moment and the run measures setup and teardown, not
# streaming. A BYE right after the ACK would also race the ACK on a busy machine. BYE_AFTER_MS=0 runs the
# bare signalling case.
#
# Environment: BYE_AFTER_MS (default 300), and those of lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATE=${1:-1000}
DURATION_S=${2:-60}
BYE_AFTER_MS=${BYE_AFTER_MS:-300}
[[ $RATE =~ ^[1-9][0-9]*$ && $DURATION_S =~ ^[1-9][0-9]*$ && $BYE_AFTER_MS =~ ^[0-9]+$ ]] ||
	{
		echo "usage: bench/setup.sh [RATE=1000] [SECONDS=60]   (env BYE_AFTER_MS=300)" >&2
		exit 2
	}
CALLS=$((RATE * DURATION_S))
# SIPp's limit on simultaneous calls: 5 s worth of calls, far above the ~RATE x BYE_AFTER_MS in flight, so
# it throttles only when calls stop completing.
LIMIT=$((RATE * 5))

bench_init setup
ensure_sipp
ensure_python
build
raise_nofile $((LIMIT * 2 + 4096))
start_server # default timers: the calls are over long before any of them matters

sipp_callers "$WORK/callers.csv" 5551001
MEDIA_PORT=$(free_media_port)
say "placing $CALLS calls at $RATE/s for $DURATION_S s (BYE $BYE_AFTER_MS ms after the ACK)"
C0=$(cpu_ticks "$SERVER_PID")
T0=$(now)
sipp_start setup -sf "$BENCH_DIR/sipp/stream.xml" -inf "$WORK/callers.csv" -s 5558000 \
	-mp "$MEDIA_PORT" -d "$BYE_AFTER_MS" -r "$RATE" -m "$CALLS" -l "$LIMIT" \
	-timeout $((DURATION_S * 3 + 60))s -timeout_error
SETUP_SIPP=$SIPP_PID
# CPU of the server and of SIPp while calls are being placed: until SIPp has created them all.
S0=$(cpu_ticks "$SETUP_SIPP" || echo 0)
sipp_wait_created "$WORK/setup.stat.csv" "$CALLS" $((DURATION_S * 3 + 30)) "$SETUP_SIPP"
C1=$(cpu_ticks "$SERVER_PID")
S1=$(cpu_ticks "$SETUP_SIPP" || echo "$S0")
T1=$(now)
sipp_wait "$SETUP_SIPP" 120
sipp_summary setup "$CALLS" "$SIPP_EXIT"
server_alive_or_die "during the run"

# The achieved rate: calls created over the time SIPp took to create them, from its per-second statistics
# (interpolated within the second in which the last call was created).
ACHIEVED=$(awk -F';' -v total="$CALLS" '
	NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "StartTime") s = i; if ($i == "CurrentTime") t = i; if ($i == "OutgoingCall(C)") c = i }; next }
	{
		split($s, a, "\t"); split($t, b, "\t"); elapsed = b[3] - a[3]; created = $c
		if (created >= total) {
			at = prev_t + (elapsed - prev_t) * (total - prev_c) / (created - prev_c)
			printf "%.1f\n", total / at; found = 1; exit
		}
		prev_t = elapsed; prev_c = created
	}
	END { if (!found) print 0 }' "$WORK/setup.stat.csv")
WALL=$(calc "$T1 - $T0")
SERVER_CPU=$(calc "($C1 - $C0) / $CLK_TCK")
SERVER_CORES=$(calc "$SERVER_CPU / $WALL")
CPU_MS_PER_CALL=$(calc "$SERVER_CPU * 1000 / $CALLS")
SIPP_CORES=$(calc "($S1 - $S0) / $CLK_TCK / $WALL")
RESPONSE=$(sipp_stat "$WORK/setup.stat.csv" "ResponseTime1(C)") # HH:MM:SS:microseconds, the mean
RESPONSE_MS=$(awk -F: -v r="$RESPONSE" 'BEGIN { n = split(r, p, ":"); if (n == 4) printf "%.3f\n", (p[1] * 3600 + p[2] * 60 + p[3]) * 1000 + p[4] / 1000; else print "null" }')

RESPONSE_TEXT="$RESPONSE_MS ms mean (SIPp measures in whole ms)"
if [[ $RESPONSE_MS == null ]]; then
	RESPONSE_TEXT="- (no SIPp figure)"
elif awk "BEGIN { exit !($RESPONSE_MS == 0) }"; then
	RESPONSE_TEXT="under 1 ms mean (SIPp measures in whole ms)"
fi

REACHED=$(truth "$ACHIEVED >= 0.99 * $RATE")
NOTE=""
if [[ $REACHED == false ]]; then
	if awk "BEGIN { exit !($SIPP_CORES >= 0.9) }"; then
		NOTE="SIPp did not reach $RATE/s: it used $(printf '%.2f' "$SIPP_CORES") of a core (it is single-threaded), so SIPp itself is the limit here, not the server"
	else
		NOTE="SIPp did not reach $RATE/s with $(printf '%.2f' "$SIPP_CORES") of a core: the server (or the machine, $(nproc) cores shared) held it back"
	fi
fi

cat <<EOF

setup: $CALLS calls at $RATE/s for $DURATION_S s (INVITE, 200, ACK, BYE after $BYE_AFTER_MS ms), SIPp
  failed calls      $SIPP_FAILED of $CALLS (SIPp exit $SIPP_EXIT; retransmissions ${SIPP_RETRANS:-?})
  achieved rate     $ACHIEVED calls/s (target $RATE/s sustained: $(met "$ACHIEVED >= 0.99 * $RATE"))
  INVITE to 200     $RESPONSE_TEXT
  server CPU        $(printf '%.2f' "$SERVER_CPU") s over $(printf '%.1f' "$WALL") s = $(printf '%.3f' "$SERVER_CORES") cores; $(printf '%.3f' "$CPU_MS_PER_CALL") ms per call
  SIPp CPU          $(printf '%.3f' "$SIPP_CORES") cores (same machine)
EOF
[[ -z $NOTE ]] || echo "  note              $NOTE"
json_line bench=setup rate="$RATE" seconds="$DURATION_S" calls="$CALLS" bye_after_ms="$BYE_AFTER_MS" \
	failed_calls="$SIPP_FAILED" sipp_exit="$SIPP_EXIT" retransmissions="${SIPP_RETRANS:-null}" \
	achieved_rate="$ACHIEVED" rate_reached="$REACHED" invite_to_200_mean_ms="$RESPONSE_MS" \
	server_cpu_s="$SERVER_CPU" wall_s="$WALL" server_cores="$SERVER_CORES" cpu_ms_per_call="$CPU_MS_PER_CALL" \
	sipp_cores="$SIPP_CORES" note="$NOTE" \
	targets_met="$(truth "$SIPP_FAILED == 0 && $ACHIEVED >= 0.99 * $RATE")"
