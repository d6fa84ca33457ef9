#!/usr/bin/env bash
# bench/scale.sh [MAX_CALLS=16000] [STEP=4000]
#
# Streaming capacity in steps, for machines with more cores than the 2-core one stream.sh was written for:
# one server, then for STEP, 2 x STEP, ... up to MAX_CALLS calls, the load of stream.sh spread over SIPPS SIPp
# instances (SIPp is single-threaded; each instance has its own media port, so calls from different instances
# can share the server's RTP sockets). For each step: failed calls, the server's CPU per call over the steady
# window, each media thread's CPU over it, the RTP the calls got. All calls of a step end before the next one.
#
# Environment: SIPPS (SIPp instances, default one per 4 cores, at least 1), RATE (calls started per second by
# each instance, default 250), WINDOW_S (the steady window wanted per step, default 30), SETTLE_S (default 3),
# PROMPT_GAP_MS, MEDIA_THREADS, and those of lib.sh. The RTP range (BENCH_RTP_MIN-BENCH_RTP_MAX, 5,000 port pairs
# by default) must hold about MAX_CALLS / SIPPS sockets: calls from one address never share one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAX_CALLS=${1:-16000}
STEP=${2:-4000}
CORES=$(nproc)
SIPPS=${SIPPS:-$(((CORES + 3) / 4))}
RATE=${RATE:-250}
WINDOW_S=${WINDOW_S:-30}
SETTLE_S=${SETTLE_S:-3}
for value in "$MAX_CALLS" "$STEP" "$SIPPS" "$RATE" "$WINDOW_S"; do
	[[ $value =~ ^[1-9][0-9]*$ ]] || {
		echo "usage: bench/scale.sh [MAX_CALLS=16000] [STEP=4000]   (env SIPPS, RATE=250, WINDOW_S=30)" >&2
		exit 2
	}
done
((STEP <= MAX_CALLS)) || {
	echo "scale: STEP ($STEP) is more than MAX_CALLS ($MAX_CALLS)" >&2
	exit 2
}

bench_init scale
PAIRS=$(((RTP_MAX - RTP_MIN + 1) / 2))
if ((MAX_CALLS / SIPPS > PAIRS * 9 / 10)); then
	die "$MAX_CALLS calls over $SIPPS SIPp instances need about $((MAX_CALLS / SIPPS)) RTP port pairs," \
		"the range has $PAIRS: raise SIPPS or widen BENCH_RTP_MIN-BENCH_RTP_MAX"
fi

# hold_for CALLS: how long each call of a step is held: the ramp, the settling, the window and 2 s.
hold_for() {
	local per_sipp=$((($1 + SIPPS - 1) / SIPPS))
	echo $(((per_sipp + RATE - 1) / RATE + SETTLE_S + WINDOW_S + 2))
}

# all_drops PORT...: udp_drops summed over SIPp's media ports (see stream.sh: about 50 a second per call).
all_drops() {
	local port d sum=0
	for port in "$@"; do
		d=$(udp_drops "$port") || true
		sum=$((sum + ${d:-0}))
	done
	echo "$sum"
}

ensure_sipp
ensure_python
build
raise_nofile $((MAX_CALLS * 2 + 4096))
stream_timers "$(hold_for "$MAX_CALLS")"
start_server
sipp_callers "$WORK/callers.csv" 5551001
say "media threads: $(media_thread_ticks "$SERVER_PID" | wc -l) on $CORES cores; $SIPPS SIPp instances"

ROWS=()
JSON_STEPS=()
ALL_MET=true
for ((calls = STEP; ; calls += STEP)); do
	((calls > MAX_CALLS)) && calls=$MAX_CALLS
	hold=$(hold_for "$calls")
	per_sipp=$((calls / SIPPS))
	say "step: $calls calls over $SIPPS SIPp instances at $RATE/s each, held $hold s"
	pids=()
	ports=()
	names=()
	T_START=$(now)
	for ((i = 0; i < SIPPS; i++)); do
		n=$per_sipp
		((i < calls % SIPPS)) && n=$((n + 1))
		((n > 0)) || continue
		# A media port of its own (free_media_port picks at random: make sure no other instance has it).
		while :; do
			port=$(free_media_port)
			[[ " ${ports[*]} " == *" $port "* ]] || break
		done
		name=s${calls}_$i
		sipp_start "$name" -sf "$BENCH_DIR/sipp/stream.xml" -inf "$WORK/callers.csv" -s 5558000 \
			-mp "$port" -d $((hold * 1000)) -r "$RATE" -m "$n" -l "$n" \
			-timeout $((hold * 2 + 120))s -timeout_error
		pids+=("$SIPP_PID")
		ports+=("$port")
		names+=("$name:$n")
	done
	for ((i = 0; i < ${#names[@]}; i++)); do
		n=${names[i]##*:}
		sipp_wait_created "$WORK/${names[i]%%:*}.stat.csv" "$n" $((n * 3 / RATE + 60)) "${pids[i]}"
	done
	sleep "$SETTLE_S"

	drops0=$(all_drops "${ports[@]}")
	measure_window "$(calc "$T_START + $hold - 2")"
	drops1=$(all_drops "${ports[@]}")
	up=0
	for entry in "${names[@]}"; do
		n=$(sipp_stat "$WORK/${entry%%:*}.stat.csv" "CurrentCall")
		up=$((up + ${n:-0}))
	done

	say "waiting for the calls to end"
	failed=0
	for ((i = 0; i < ${#names[@]}; i++)); do
		sipp_wait "${pids[i]}" $((hold * 2 + 90))
		sipp_summary "${names[i]%%:*}" "${names[i]##*:}" "$SIPP_EXIT"
		failed=$((failed + SIPP_FAILED))
	done
	server_alive_or_die "during the $calls-call step"

	pct=$(calc "$WIN_CPU / $WIN_SECONDS / $calls * 100")
	pps=$(calc "($drops1 - $drops0) / $WIN_SECONDS / $calls")
	threads=$(awk '{ printf "%s%s", (NR > 1 ? " " : ""), $2 }' <<<"$WIN_MEDIA_THREADS")
	ROWS+=("$(printf '%8d %7d %6d %9.1f %8.3f %9.4f %8.1f   %s' "$calls" "$failed" "$up" "$WIN_SECONDS" \
		"$WIN_CORES" "$pct" "$pps" "${threads:--}")")
	JSON_STEPS+=("$(json_line calls="$calls" failed_calls="$failed" calls_up_in_window="$up" \
		window_s="$WIN_SECONDS" server_cores="$WIN_CORES" cpu_pct_per_call="$pct" rtp_pps_per_call="$pps" \
		rss_window_kib="$WIN_RSS_KIB" media_thread_cores:="$(media_threads_json)")")
	if ((failed > 0)) || awk "BEGIN { exit !($pct > 0.04) }"; then
		ALL_MET=false
	fi
	((calls < MAX_CALLS)) || break
	sleep 2 # the server closes the last calls' media
done
PEAK_KIB=$(peak_rss_kib "$SERVER_PID")

cat <<EOF

scale: streaming steps up to $MAX_CALLS calls, $SIPPS SIPp instances at $RATE/s each, $CORES cores
   calls  failed     up  window_s    cores    %/call  pps/call   media threads (cores each, in name order)
$(printf '%s\n' "${ROWS[@]}")
  (%/call: server CPU per call in % of one core, target <= 0.04; pps/call: RTP to each call, 50 = every 20 ms;
   up: calls up at the end of the window by SIPp's count)
  server peak VmHWM $(printf '%.1f' "$(mib "$PEAK_KIB")") MiB
EOF
STEPS_JSON="[$(
	IFS=,
	echo "${JSON_STEPS[*]}"
)]"
json_line bench=scale max_calls="$MAX_CALLS" step="$STEP" sipps="$SIPPS" rate_per_sipp="$RATE" cores="$CORES" \
	steps:="$STEPS_JSON" peak_rss_kib="$PEAK_KIB" targets_met="$ALL_MET"
