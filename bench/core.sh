#!/usr/bin/env bash
# bench/core.sh
#
# The conversation core alone: `cargo bench -p portal-core` (crates/portal-core/benches/login.rs) runs
# complete calls through the sans-IO state machine on one thread and prints inputs per second for a returning
# user's login and for a first login (forced change and name). Reports both and checks the lower against the
# target of 2,000,000 inputs per second per core. No server, no network.
#
# Environment: those of lib.sh (CARGO_TARGET_DIR; BENCH_NO_BUILD does not apply: cargo bench builds).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 0 ]] || {
	echo "usage: bench/core.sh" >&2
	exit 2
}
bench_init core
say "cargo bench -p portal-core (builds the bench profile first)"
cargo bench --locked -p portal-core >"$WORK/bench.out" 2>"$WORK/bench.err" ||
	die "cargo bench failed: $(tail -5 "$WORK/bench.err")"
grep -E "inputs/s|bytes" "$WORK/bench.out" >&2 || true

# Lines such as: returning user login   1000000 calls   13000000 inputs in  0.650 s:  20.00 M inputs/s, ...
FIGURES=$(awk '/ M inputs\/s/ {
		name = $0; sub(/ +[0-9]+ calls.*/, "", name)
		for (i = 1; i <= NF; i++) if ($i == "M" && $(i + 1) ~ /^inputs\/s/) rate = $(i - 1)
		for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^calls\/s/) calls = $i
		printf "%s\t%.0f\t%s\n", name, rate * 1000000, calls
	}' "$WORK/bench.out")
[[ -n $FIGURES ]] || die "no inputs/s figure in the output of cargo bench (see above)"
LOWEST=$(cut -f2 <<<"$FIGURES" | sort -n | head -n 1)

echo
echo "core: cargo bench -p portal-core, one thread"
while IFS=$'\t' read -r name rate calls; do
	printf '  %-30s %12.0f inputs/s  %10s calls/s\n' "$name" "$rate" "$calls"
done <<<"$FIGURES"
echo "  target            >= 2,000,000 inputs/s per core: $(met "$LOWEST >= 2000000")"
SCRIPTS=$(python3 -c '
import json, sys
print(json.dumps([{"name": n, "inputs_per_s": float(r), "calls_per_s": float(c)}
                  for n, r, c in (line.split("\t") for line in sys.argv[1].splitlines())]))' "$FIGURES")
json_line bench=core scripts:="$SCRIPTS" lowest_inputs_per_s="$LOWEST" \
	targets_met="$(truth "$LOWEST >= 2000000")"
