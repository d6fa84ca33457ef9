#!/usr/bin/env bash
# The Debian package test: builds the package (scripts/package), installs it on this machine with dpkg, and
# shows that systemd starts the installed unit and that the service answers SIP.
#
# This machine's PID 1 is not systemd, so the unit is run by a systemd booted in a container: systemd-nspawn
# over this machine's own root directory (read-only, with a throwaway overlay on top, so the container sees
# exactly what dpkg installed here and nothing it does reaches this machine), with a network of its own (its
# 127.0.0.1:5060 is not this machine's). There:
#   1. systemd boots to multi-user.target and starts vportal.service because the postinst here enabled it;
#   2. the service answers SIP OPTIONS (UDP and TCP) on the configured 127.0.0.1:5060, runs as the vportal user
#      with CAP_SYS_NICE only, no new privileges and a seccomp filter, its media thread at SCHED_FIFO, and wrote
#      its database to /var/lib/vportal and its sealing key to /var/lib/vportal-keys (0700 directories, 0600 key);
#      it serves /healthz, /readyz and /metrics on the configured 127.0.0.1:9464;
#   3. a portal onboarded with vportal admin takes a few SIPp calls (issue 15: a newcomer installs the package,
#      starts the unit, scrapes /metrics during a SIPp run and reads the figures): the calls show in progress
#      while they last, and afterwards the calls ended and INVITEs received match what SIPp counted;
#   4. systemctl reload applies the configuration again in the same process, which still answers;
#   5. it restarts with the same key, and stops cleanly on systemctl stop;
#   6. dpkg -r with systemd running stops it (prerm); dpkg -i starts it again (postinst) on the same data;
#      dpkg -P deletes the data and the key.
# Then, on this machine, dpkg -r leaves only the conffile, and dpkg -P leaves nothing of the package but the
# vportal user (Debian keeps system users).
#
# Needs root, dpkg, systemd, systemd-nspawn (Debian's systemd-container), python3 and sipp (Debian's
# sip-tester). Without them it fails under CI=true and is skipped otherwise. It refuses to touch a vportal
# package already installed here, except under CI=true (a leftover of an earlier run), where it purges it first.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { echo "package test: $*" >&2; }
fail() {
  say "FAILED: $*"
  exit 1
}
skip_or_fail() {
  if [ "${CI:-}" = true ]; then
    echo "package: 0 passed, 1 failed"
    fail "$*"
  fi
  say "skipped: $*"
  echo "package: 0 passed, 0 failed, 1 skipped"
  exit 0
}

[ "$(id -u)" -eq 0 ] || skip_or_fail "needs root (it installs the package with dpkg)"
for tool in dpkg dpkg-deb systemd-nspawn nsenter unshare python3 getent sipp; do
  command -v "$tool" >/dev/null || skip_or_fail "needs $tool"
done
[ -x /lib/systemd/systemd ] || skip_or_fail "needs systemd (/lib/systemd/systemd)"
control="$(mktemp -d)"
container_dir="$(mktemp -d)"
container_log="$container_dir/console.log"
nspawn=""
sipp_pid=""
# Set once this test has installed the package here: cleanup purges it then, and only then.
installed=false
cleanup() {
  status=$?
  if [ -n "$sipp_pid" ] && kill -0 "$sipp_pid" 2>/dev/null; then
    kill "$sipp_pid" 2>/dev/null || true
    wait "$sipp_pid" 2>/dev/null || true
  fi
  if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
    kill "$nspawn" 2>/dev/null || true
    wait "$nspawn" 2>/dev/null || true
  fi
  if [ $status -ne 0 ] && [ -s "$container_log" ]; then
    say "the container's console, last lines:"
    tail -n 40 "$container_log" >&2
  fi
  if [ "$installed" = true ]; then
    dpkg -P vportal >/dev/null 2>&1 || true
  fi
  # What systemd-nspawn leaves in this machine's /run, which is no tmpfs here.
  rm -rf "$control" "$container_dir" /run/systemd/nspawn/propagate/vportal-test
  if [ $status -eq 0 ]; then
    echo "package: 1 passed, 0 failed"
  else
    echo "package: 0 passed, 1 failed"
  fi
  exit $status
}
trap cleanup EXIT

if dpkg-query -W -f='${db:Status-Status}' vportal 2>/dev/null | grep -v '^not-installed$' >/dev/null; then
  if [ "${CI:-}" = true ]; then
    say "purging the vportal package left by an earlier run"
    dpkg -P vportal >/dev/null
  else
    fail "a vportal package is installed on this machine: dpkg -P vportal first (this test installs and purges its own)"
  fi
fi

started=$SECONDS
deb="$(scripts/package | tail -n 1)"
say "built $deb in $((SECONDS - started)) s"

# -- The package's contents and control files -----------------------------------------------------------------
contents="$(dpkg-deb -c "$deb" | awk '{print $6}')"
for path in ./usr/bin/vportal ./usr/lib/systemd/system/vportal.service ./usr/lib/sysusers.d/vportal.conf \
  ./etc/vportal/vportal.toml ./usr/share/man/man1/vportal.1.gz ./usr/share/bash-completion/completions/vportal \
  ./usr/share/vportal/prompts/en/welcome.wav ./usr/share/vportal/prompts/es/welcome.wav \
  ./usr/share/vportal/prompts/catalog.toml; do
  grep -qx -- "$path" <<<"$contents" || fail "the package lacks $path"
done
dpkg-deb -e "$deb" "$control"
grep -qx /etc/vportal/vportal.toml "$control/conffiles" || fail "/etc/vportal/vportal.toml is not a conffile"
grep -q 'systemd-sysusers .*vportal.conf' "$control/postinst" || fail "the postinst does not create the user"
grep -q 'deb-systemd-helper enable vportal.service' "$control/postinst" || fail "the postinst does not enable the unit"
grep -q 'deb-systemd-invoke .*vportal.service' "$control/postinst" || fail "the postinst does not start the unit"

# -- Install on this machine ----------------------------------------------------------------------------------
installed=true
dpkg -i "$deb" >/dev/null
[ "$(dpkg-query -W -f='${db:Status-Status}' vportal)" = installed ] || fail "dpkg -i did not install vportal"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd vportal) || fail "the postinst created no vportal user"
if [ "$uid" -ge 1000 ] || [ "$home" != /var/lib/vportal ] || [ "$shell" != /usr/sbin/nologin ]; then
  fail "vportal user: uid $uid, home $home, shell $shell"
fi
/usr/bin/vportal --version | grep >/dev/null '^vportal ' || fail "vportal --version"
zcat /usr/share/man/man1/vportal.1.gz | grep >/dev/null '^\.TH vportal 1' || fail "the manual page is not roff for vportal(1)"
bash -c 'source /usr/share/bash-completion/completions/vportal && complete -p vportal' >/dev/null ||
  fail "the bash completion does not register"
unit=/usr/lib/systemd/system/vportal.service
[ "$(readlink -f /etc/systemd/system/multi-user.target.wants/vportal.service)" = "$unit" ] ||
  fail "the postinst did not enable vportal.service"
systemd-analyze verify "$unit" || fail "systemd-analyze verify"
say "installed: user vportal (uid $uid), unit enabled, conffile, manual page, completion"

# -- Boot systemd over this machine's root, in a container ----------------------------------------------------
# nspawn refuses / itself as the container's directory; a bind mount of it, made in a mount namespace of its own
# (so it vanishes with the container), is accepted. --volatile=overlay: the root read-only, writes to a tmpfs.
mkdir -p "$container_dir/root" "$container_dir/deb"
cp "$deb" "$container_dir/deb/vportal.deb"
# shellcheck disable=SC2016 # $1 is expanded by that sh
unshare --mount --propagation private sh -c '
  mount --bind / "$1/root" && exec systemd-nspawn --quiet --directory="$1/root" --volatile=overlay \
    --private-network --register=no --keep-unit --link-journal=no --machine=vportal-test --console=pipe \
    --bind-ro="$1/deb:/mnt/vportal-deb" --boot systemd.unit=multi-user.target' sh "$container_dir" \
  </dev/null >"$container_log" 2>&1 &
nspawn=$!
leader=""
for _ in $(seq 100); do
  leader="$(pgrep -P "$nspawn" -x systemd || true)"
  [ -n "$leader" ] && break
  kill -0 "$nspawn" 2>/dev/null || fail "systemd-nspawn exited"
  sleep 0.1
done
[ -n "$leader" ] || fail "no systemd in the container after 10 s"
in_container() { nsenter --target "$leader" --all "$@"; }
# systemctl answers once systemd has set up its socket; --wait then waits for the boot to finish. Two minutes at
# most: a boot that has not finished by then goes on to the checks below, which say what is missing.
state=""
boot_deadline=$((SECONDS + 120))
while [ -z "$state" ] && [ $SECONDS -lt $boot_deadline ]; do
  state="$(timeout 10 nsenter --target "$leader" --all systemctl is-system-running --wait 2>/dev/null || true)"
  [ -n "$state" ] || sleep 0.5
done
say "the container's systemd (PID $leader here) booted: ${state:-not finished after 2 minutes}"

# Where a unit fails, its status and journal say why.
unit_failed() {
  in_container systemctl status --no-pager vportal.service >&2 || true
  in_container journalctl --no-pager -u vportal.service >&2 || true
  fail "$*"
}
# Asks the container's 127.0.0.1:5060 for SIP OPTIONS, over UDP and over TCP, and wants 200 for both.
sip_options() {
  nsenter --target "$leader" --net python3 - <<'EOF' || unit_failed "no 200 to SIP OPTIONS on 127.0.0.1:5060"
import socket, sys, time

def options(transport, port, branch):
    # rport: the answer comes back to the port the request came from (RFC 3581).
    return (f"OPTIONS sip:vportal@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:{port};rport;branch=z9hG4bK{branch}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag={branch}\r\nTo: <sip:vportal@127.0.0.1>\r\n"
            f"Call-ID: {branch}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()

deadline = time.monotonic() + 15
while True:
    branch = f"pkg{time.monotonic_ns()}"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(1)
            udp.bind(("127.0.0.1", 0))
            udp.sendto(options("UDP", udp.getsockname()[1], branch + "u"), ("127.0.0.1", 5060))
            udp_reply = udp.recv(65536).decode(errors="replace")
        with socket.create_connection(("127.0.0.1", 5060), timeout=2) as tcp:
            tcp.sendall(options("TCP", tcp.getsockname()[1], branch + "t"))
            tcp_reply = tcp.recv(65536).decode(errors="replace")
    except OSError as error:
        if time.monotonic() > deadline:
            sys.exit(f"SIP OPTIONS: {error}")
        time.sleep(0.2)
        continue
    for transport, reply in (("UDP", udp_reply), ("TCP", tcp_reply)):
        if not reply.startswith("SIP/2.0 200 "):
            sys.exit(f"SIP OPTIONS over {transport}: {reply.splitlines()[0] if reply else 'no reply'}")
    print("SIP OPTIONS: 200 over UDP and TCP", file=sys.stderr)
    break
EOF
}
key_digest() { in_container sha256sum /var/lib/vportal-keys/sealing.key | cut -d' ' -f1; }
# GETs http://127.0.0.1:9464$1, the packaged configuration's [metrics] listen, in the container's network (as
# a newcomer's Prometheus would, with python3's urllib and no proxy): the HTTP status on the first line, then
# the body.
http_get() {
  nsenter --target "$leader" --net python3 - "$1" <<'EOF'
import sys, urllib.error, urllib.request

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open("http://127.0.0.1:9464" + sys.argv[1], timeout=5) as reply:
        status, body = reply.status, reply.read()
except urllib.error.HTTPError as error:
    status, body = error.code, error.read()
print(status)
sys.stdout.write(body.decode(errors="replace"))
EOF
}
# The body of /metrics; fails unless it answers 200.
scrape() {
  local reply
  reply="$(http_get /metrics)" && [ "$(head -n 1 <<<"$reply")" = 200 ] && tail -n +2 <<<"$reply"
}
# The value of one series (its name and labels exactly as the scrape writes them) in the scrape $2.
series() { awk -v name="$1" '$1 == name {print $2}' <<<"$2"; }

# 1. Started at boot, by the enable link the postinst made.
[ "$(in_container systemctl is-enabled vportal.service)" = enabled ] || unit_failed "vportal.service is not enabled"
[ "$(in_container systemctl is-active vportal.service || true)" = active ] ||
  unit_failed "systemd did not start vportal.service at boot"
# 2. It answers, as whom, with what, and where its data went.
sip_options
main_pid="$(in_container systemctl show -p MainPID --value vportal.service)"
# shellcheck disable=SC2016 # awk's $1 and $2
status_of() { in_container awk -v f="$1:" '$1 == f {print $2}' "/proc/$main_pid/status"; }
[ "$(status_of Uid)" = "$uid" ] || unit_failed "the service runs as uid $(status_of Uid), not vportal's $uid"
[ "$(status_of CapEff)" = 0000000000800000 ] || unit_failed "capabilities $(status_of CapEff), not CAP_SYS_NICE only"
[ "$(status_of NoNewPrivs)" = 1 ] || unit_failed "NoNewPrivs is $(status_of NoNewPrivs)"
[ "$(status_of Seccomp)" = 2 ] || unit_failed "no seccomp filter (Seccomp $(status_of Seccomp))"
# Every media thread (vportal-media0, vportal-media1, ...: one per core) at SCHED_FIFO 10.
media="$(in_container ps -L -o cls=,rtprio=,comm= -p "$main_pid" | awk '$3 ~ /^vportal-media[0-9]+$/ {print $1, $2}')"
[ -n "$media" ] || unit_failed "no media thread (vportal-media0, ...) in the service"
[ -z "$(grep -v '^FF 10$' <<<"$media")" ] ||
  unit_failed "the media threads' scheduling is '$media', not SCHED_FIFO 10 for each"
in_container test -s /var/lib/vportal/vportal.db || unit_failed "no database in /var/lib/vportal"
for dir in /var/lib/vportal /var/lib/vportal-keys; do
  [ "$(in_container stat -c '%U %a' "$dir")" = "vportal 700" ] ||
    unit_failed "$dir: $(in_container stat -c '%U %a' "$dir")"
done
[ "$(in_container stat -c '%U %a' /var/lib/vportal-keys/sealing.key)" = "vportal 600" ] ||
  unit_failed "the sealing key: $(in_container stat -c '%U %a' /var/lib/vportal-keys/sealing.key)"
in_container test ! -e /var/lib/vportal.key || unit_failed "a key file beside the data directory"
in_container journalctl --no-pager -u vportal.service | grep >/dev/null 'vportal: SIP on udp and tcp 127.0.0.1:5060' ||
  unit_failed "the journal lacks the service's start line"
# Administration as the README says to run it beside the service: as the vportal user, with the unit's paths.
in_container runuser -u vportal -- vportal admin --data /var/lib/vportal --sealing-key /var/lib/vportal-keys/sealing.key \
  --config /etc/vportal/vportal.toml policy show | grep >/dev/null '"failed_attempts_before_lockout": 4' ||
  unit_failed "vportal admin policy show, as the vportal user beside the service"
key="$(key_digest)"
say "started by systemd at boot: SIP OPTIONS answered, uid vportal, CAP_SYS_NICE only, media thread SCHED_FIFO 10;" \
  "vportal admin works beside it"

# The metrics endpoint of the packaged configuration.
for path in /healthz /readyz; do
  reply="$(http_get "$path")" || unit_failed "GET $path failed"
  [ "$(head -n 1 <<<"$reply")" = 200 ] || unit_failed "GET $path: $(head -n 1 <<<"$reply")"
done
[ "$(sed -n 2p <<<"$reply")" = ready ] || unit_failed "/readyz says '$(sed -n 2p <<<"$reply")', not ready"
metrics="$(scrape)" || unit_failed "GET /metrics failed"
build_info="$(grep '^vportal_build_info{' <<<"$metrics")" || unit_failed "/metrics lacks vportal_build_info"
say "metrics on 127.0.0.1:9464: /healthz 200, /readyz 200 ready, $build_info"

# 3. A newcomer's first calls: a portal onboarded as the README says, SIPp's built-in UAC scenario calling its
# number (INVITE with a PCMU offer, ACK, 2 s of the portal's welcome, BYE) from the container's network, and
# /metrics scraped while the calls go on and after.
in_container runuser -u vportal -- vportal admin --data /var/lib/vportal --sealing-key /var/lib/vportal-keys/sealing.key \
  --config /etc/vportal/vportal.toml portal add --number 5558000 --extension 8000 --name Test --language en \
  <<<480213 | grep >/dev/null '"admin_passcode_set": true' || unit_failed "vportal admin portal add"
calls=5
sipp_dir="$container_dir/sipp"
mkdir "$sipp_dir"
# SIPp's SIP on 5061 (5060 is the portal's), its media port the default 6000, where it takes the portal's RTP
# without echoing it; -timeout: the whole run, failed if it lasts longer. The calls start at 5 a second.
(cd "$sipp_dir" && exec nsenter --target "$leader" --net sipp 127.0.0.1:5060 -sn uac -s 5558000 -i 127.0.0.1 \
  -p 5061 -d 2000 -m "$calls" -r 5 -l "$calls" -nostdin -timeout 60s -timeout_error \
  -trace_screen -trace_stat -stf stats.csv -fd 1) >/dev/null 2>"$sipp_dir/stderr" &
sipp_pid=$!
most_in_progress=0
scrapes=0
while kill -0 "$sipp_pid" 2>/dev/null; do
  metrics="$(scrape)" || unit_failed "GET /metrics failed during the calls"
  in_progress="$(series vportal_calls_in_progress "$metrics")"
  scrapes=$((scrapes + 1))
  if [ "${in_progress:-0}" -gt "$most_in_progress" ]; then most_in_progress=$in_progress; fi
  sleep 0.2
done
sipp_status=0
wait "$sipp_pid" || sipp_status=$?
sipp_pid=""
# A column of SIPp's statistics (the -trace_stat file), by its header, at the end of the run.
sipp_stat() {
  awk -F';' -v name="$1" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == name) column = i}
    END {if (column) print $column}' "$sipp_dir/stats.csv"
}
succeeded="$(sipp_stat 'SuccessfulCall(C)' 2>/dev/null || true)"
failed="$(sipp_stat 'FailedCall(C)' 2>/dev/null || true)"
if [ "$sipp_status" -ne 0 ] || [ "$failed" != 0 ] || [ "$succeeded" != "$calls" ]; then
  # SIPp's scenario screen at exit (its first screen), and the last of what it said (the errors it met).
  awk 'NR > 1 && /Screen ---/ {exit} {print}' "$sipp_dir"/*_screen.log >&2 2>/dev/null || true
  tail -n 15 "$sipp_dir/stderr" >&2 || true
  unit_failed "SIPp: exit $sipp_status, ${succeeded:-no} successful and ${failed:-no} failed calls of $calls"
fi
[ "$most_in_progress" -gt 0 ] || unit_failed "vportal_calls_in_progress was 0 in all $scrapes scrapes during the calls"
# Calls are counted as they end, SIP messages copied from the endpoint once a second: a few seconds at most.
deadline=$((SECONDS + 10))
while :; do
  metrics="$(scrape)" || unit_failed "GET /metrics failed after the calls"
  ended="$(awk '$1 ~ /^vportal_calls_total[{]/ {sum += $2} END {print sum + 0}' <<<"$metrics")"
  invites="$(series 'vportal_sip_requests_total{direction="received",method="INVITE"}' "$metrics")"
  in_progress="$(series vportal_calls_in_progress "$metrics")"
  if [ "$ended" -eq "$succeeded" ] && [ "${invites:-0}" -ge "$succeeded" ] && [ "$in_progress" = 0 ]; then break; fi
  [ $SECONDS -lt $deadline ] ||
    unit_failed "after $succeeded calls, /metrics says: $ended ended, ${invites:-no} INVITEs, ${in_progress:-?} in progress"
  sleep 0.2
done
outcomes="$(awk '$1 ~ /^vportal_calls_total[{]/ {printf "%s%s", sep, $0; sep = ", "}' <<<"$metrics")"
say "SIPp: $succeeded calls succeeded, none failed; /metrics during them: up to $most_in_progress in progress" \
  "($scrapes scrapes); after: $outcomes, $invites INVITEs received, 0 in progress"

# 4. systemctl reload (SIGHUP): the same process reads its configuration again and goes on answering; the
# outcome is in the journal at the default log level.
in_container systemctl restart vportal.service
sip_options
main_pid="$(in_container systemctl show -p MainPID --value vportal.service)"
in_container systemctl reload vportal.service
[ "$(in_container systemctl show -p MainPID --value vportal.service)" = "$main_pid" ] ||
  unit_failed "systemctl reload changed the main process"
deadline=$((SECONDS + 10))
while :; do
  metrics="$(scrape)" || unit_failed "GET /metrics failed after the reload"
  applied="$(series 'vportal_config_reloads_total{result="applied"}' "$metrics")"
  if [ "$applied" = 1 ] &&
    in_container journalctl --no-pager -u vportal.service | grep >/dev/null 'configuration reloaded'; then
    break
  fi
  [ $SECONDS -lt $deadline ] ||
    unit_failed "after systemctl reload: ${applied:-no} applied reloads in /metrics (1 wanted)," \
      "or no 'configuration reloaded' in the journal"
  sleep 0.2
done
sip_options
say "reloaded: same main process ($main_pid), 'configuration reloaded' in the journal," \
  "vportal_config_reloads_total{result=\"applied\"} 1, SIP OPTIONS still answered"

# 5. Restart keeps the key; stop is clean.
in_container systemctl restart vportal.service
sip_options
[ "$(key_digest)" = "$key" ] || unit_failed "the sealing key changed across a restart"
in_container systemctl stop vportal.service
[ "$(in_container systemctl show -p Result --value vportal.service)" = success ] ||
  unit_failed "vportal.service did not stop cleanly"
in_container journalctl --no-pager -u vportal.service | grep >/dev/null 'vportal: stopped' ||
  unit_failed "the journal lacks the service's stop line"
in_container systemctl start vportal.service
say "restarted with the same sealing key; stopped cleanly"

# 6. The maintainer scripts with systemd running. This machine's image has a Docker-style policy-rc.d that tells
# maintainer scripts never to start or stop services; a server has none, so the container drops it (from its
# overlay only).
if in_container test -e /usr/sbin/policy-rc.d; then in_container rm /usr/sbin/policy-rc.d; fi
in_container dpkg -r vportal >/dev/null
[ "$(in_container systemctl is-active vportal.service || true)" != active ] || unit_failed "dpkg -r left it running"
in_container test -s /var/lib/vportal/vportal.db || fail "dpkg -r deleted the data"
in_container dpkg -i /mnt/vportal-deb/vportal.deb >/dev/null
[ "$(in_container systemctl is-active vportal.service || true)" = active ] || unit_failed "dpkg -i did not start it"
sip_options
[ "$(key_digest)" = "$key" ] || unit_failed "reinstalling changed the sealing key"
in_container dpkg -P vportal >/dev/null
for path in /var/lib/vportal /var/lib/vportal-keys /etc/vportal "$unit" /usr/bin/vportal; do
  in_container test ! -e "$path" || fail "dpkg -P left $path in the container"
done
say "in the container: dpkg -r stopped it, dpkg -i started it on the same data, dpkg -P deleted data and key"
in_container systemctl poweroff >/dev/null 2>&1 || true
for _ in $(seq 100); do
  kill -0 "$nspawn" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$nspawn" 2>/dev/null && fail "the container did not power off within 10 s"
wait "$nspawn" || true
nspawn=""

# -- Remove and purge on this machine -------------------------------------------------------------------------
dpkg -r vportal >/dev/null
[ "$(dpkg-query -W -f='${db:Status-Status}' vportal)" = config-files ] || fail "dpkg -r: not in config-files state"
[ -f /etc/vportal/vportal.toml ] || fail "dpkg -r removed the conffile"
for path in /usr/bin/vportal "$unit" /usr/share/vportal /usr/share/man/man1/vportal.1.gz; do
  [ ! -e "$path" ] || fail "dpkg -r left $path"
done
dpkg -P vportal >/dev/null
installed=false
dpkg-query -W vportal >/dev/null 2>&1 && fail "dpkg -P: dpkg still knows vportal"
for path in /etc/vportal /etc/systemd/system/multi-user.target.wants/vportal.service /var/lib/vportal \
  /var/lib/vportal-keys /usr/lib/sysusers.d/vportal.conf; do
  if [ -e "$path" ] || [ -L "$path" ]; then fail "dpkg -P left $path"; fi
done
say "removed (the conffile kept) and purged (nothing left but the vportal user) on this machine"
say "passed in $((SECONDS - started)) s"
