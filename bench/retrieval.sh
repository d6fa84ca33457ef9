#!/usr/bin/env bash
# bench/retrieval.sh [MESSAGES=1000] [CALLS=3]
#
# Time from main menu `1` to the first word the portal says (`you_have`) and to the first message's audio, with
# the demo's 2 messages in mailbox 1001 and then with MESSAGES.
#
# 1. The demo data with the quota raised (`vportal admin policy set --mailbox-quota-messages 10000
#    --mailbox-quota-minutes 6000`), the server with the shipped timers (loopback a trusted peer).
# 2. CALLS harness calls one after the other, from 5551001 (`vportal-harness call`, script `start welcome;
#    press 1357924#; start main_menu; press 1; wait LISTEN_MS; hangup`), each transcript read by
#    bench/deposit_audio.py times: from the `press 1` line (the harness logs it as it starts sending the key)
#    to the first `heard you_have`, to the first `heard received` (the first message's envelope) and to the
#    first `heard <audio ...>` after it (the message itself: the demo's oldest, 8 s, so the same message every
#    time; the harness reports a stretch of audio once it has ended, so LISTEN_MS, default 25000, lets it play
#    to its end: it becomes heard, and stays new, so the next call hears the same counts and message).
# 3. Fills the mailbox to MESSAGES: SIPp (bench/sipp/deposit.xml) deposits MESSAGES minus what is there, each
#    speaking FILL_SPEECH_MS (default 1500) of bench/deposit_audio.py's speech, FILL_PARALLEL at a time
#    (default 250) at FILL_RATE per second (default 100); checks the count with `vportal admin user messages`.
# 4. CALLS calls again, as in 2.
#
# Environment: LISTEN_MS, FILL_SPEECH_MS, FILL_PARALLEL, FILL_RATE, and those of lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MESSAGES=${1:-1000}
CALLS=${2:-3}
LISTEN_MS=${LISTEN_MS:-25000}
FILL_SPEECH_MS=${FILL_SPEECH_MS:-1500}
FILL_PARALLEL=${FILL_PARALLEL:-250}
FILL_RATE=${FILL_RATE:-100}
if ! [[ $MESSAGES =~ ^[1-9][0-9]*$ && $CALLS =~ ^[1-9][0-9]*$ && $LISTEN_MS =~ ^[1-9][0-9]*$ &&
	$FILL_SPEECH_MS =~ ^[1-9][0-9]*$ && $FILL_PARALLEL =~ ^[1-9][0-9]*$ && $FILL_RATE =~ ^[1-9][0-9]*$ ]] ||
	((MESSAGES > 10000)); then
	echo "usage: bench/retrieval.sh [MESSAGES=1000 (at most 10000)] [CALLS=3]   (env LISTEN_MS FILL_SPEECH_MS FILL_PARALLEL FILL_RATE)" >&2
	exit 2
fi

bench_init retrieval
ensure_sipp
ensure_python
build
raise_nofile $((FILL_PARALLEL * 2 + 4096))
seed_data "$WORK/data"
"$VPORTAL" admin --data "$WORK/data" policy set --mailbox-quota-messages 10000 \
	--mailbox-quota-minutes 6000 >/dev/null || die "vportal admin policy set failed"
start_server

count_messages() {
	"$VPORTAL" admin --data "$WORK/data" user messages 1001 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# listen NAME: CALLS harness calls in turn; each one's times (JSON) a line in $WORK/NAME.times.
listen() {
	local name=$1 i
	: >"$WORK/$name.times"
	for ((i = 1; i <= CALLS; i++)); do
		server_alive_or_die "before call $i ($name)"
		"$HARNESS" call --server "127.0.0.1:$SIP_PORT" --from 5551001 --to 5558000 --timeout-s 30 \
			--script "start welcome; press 1357924#; start main_menu; press 1; wait $LISTEN_MS; hangup" \
			>"$WORK/$name.$i.transcript" 2>&1 || say "call $i ($name) did not follow its script: $(tail -2 "$WORK/$name.$i.transcript" | tr '\n' ' ')"
		python3 "$BENCH_DIR/deposit_audio.py" times "$WORK/$name.$i.transcript" >>"$WORK/$name.times"
	done
}
# summary NAME KEY: "a / b / c ms" over the calls.
summary() {
	python3 - "$WORK/$1.times" "$2" <<'EOF'
import json, sys
values = [json.loads(line)[sys.argv[2]] for line in open(sys.argv[1]) if line.strip()]
print(" / ".join("-" if v is None else f"{v:.0f}" for v in values) + " ms")
EOF
}
# series NAME KEY: the JSON list of KEY over the calls.
series() {
	python3 - "$WORK/$1.times" "$2" <<'EOF'
import json, sys
print(json.dumps([json.loads(line)[sys.argv[2]] for line in open(sys.argv[1]) if line.strip()]))
EOF
}

BEFORE=$(count_messages) || die "vportal admin user messages failed"
say "$BEFORE messages in 1001: $CALLS calls pressing 1"
listen few

FILL=$((MESSAGES - BEFORE))
FILL_S=null
if ((FILL > 0)); then
	python3 "$BENCH_DIR/deposit_audio.py" gen --seconds "$(calc "$FILL_SPEECH_MS / 1000")" \
		--out "$WORK/speech.pcap" >/dev/null || die "could not write the speech pcap"
	say "depositing $FILL messages of $FILL_SPEECH_MS ms, $FILL_PARALLEL at a time, $FILL_RATE/s"
	cd "$WORK"
	T0=$(now)
	sipp_start fill -sf "$BENCH_DIR/sipp/deposit.xml" -s 5558000 -mp "$(free_media_port)" \
		-d $((FILL_SPEECH_MS + 400)) -r "$FILL_RATE" -m "$FILL" -l "$FILL_PARALLEL" \
		-timeout $((FILL / FILL_RATE + FILL * 13 / FILL_PARALLEL + 120))s -timeout_error
	cd "$REPO"
	sipp_wait "$SIPP_PID" $((FILL / FILL_RATE + FILL * 13 / FILL_PARALLEL + 150))
	sipp_summary fill "$FILL" "$SIPP_EXIT"
	FILL_S=$(calc "$(now) - $T0")
	sleep 2
fi
AFTER=$(count_messages) || die "vportal admin user messages failed"
[[ $AFTER -ge $MESSAGES ]] || say "warning: only $AFTER messages in 1001 after the fill (wanted $MESSAGES)"
say "$AFTER messages in 1001: $CALLS calls pressing 1"
listen many
server_alive_or_die "during the run"

FIRST_HEARD=$(python3 -c 'import json,sys; print(", ".join(json.loads(open(sys.argv[1]).readline())["heard"][:6]))' "$WORK/many.times")
cat <<EOF

retrieval: main menu 1 to the first word and to the first message, mailbox 1001 ($CALLS calls each)
  with $BEFORE messages  1 -> you_have $(summary few you_have_ms); -> envelope $(summary few envelope_ms); -> message audio $(summary few message_audio_ms) (last envelope item to it $(summary few after_last_envelope_item_ms))
  with $AFTER messages  1 -> you_have $(summary many you_have_ms); -> envelope $(summary many envelope_ms); -> message audio $(summary many message_audio_ms) (last envelope item to it $(summary many after_last_envelope_item_ms))
  heard after 1     $FIRST_HEARD ... (first call at $AFTER, s after the key)
  fill              $FILL deposits of $FILL_SPEECH_MS ms in $(printf '%.1f' "${FILL_S/null/0}") s$( ((FILL > 0)) && echo ", $SIPP_FAILED failed")
EOF
json_line bench=retrieval messages_before="$BEFORE" messages_after="$AFTER" calls="$CALLS" \
	you_have_ms_before:="$(series few you_have_ms)" envelope_ms_before:="$(series few envelope_ms)" \
	message_audio_ms_before:="$(series few message_audio_ms)" \
	you_have_ms_after:="$(series many you_have_ms)" envelope_ms_after:="$(series many envelope_ms)" \
	message_audio_ms_after:="$(series many message_audio_ms)" \
	after_last_envelope_item_ms_before:="$(series few after_last_envelope_item_ms)" \
	after_last_envelope_item_ms_after:="$(series many after_last_envelope_item_ms)" fill="$FILL" fill_s="$FILL_S" \
	fill_failed="$( ((FILL > 0)) && echo "$SIPP_FAILED" || echo 0)"
