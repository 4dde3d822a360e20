#!/usr/bin/env bash
# Metering in berthd, against real guests:
# - a guest that burns 3 s of CPU (burn.elf secs=3) and writes 16 MiB to its
#   disk (disk_mib=16) shows up in the usage records with CPU within 5% of
#   what /proc/PID/stat said last, and exactly 16 MiB written. The burn is
#   3 s by the guest's clock: its vCPU ran or waited runnable (steal) for
#   them, so CPU + steal must be at least 2.5 s (0.5 s for the steal of the
#   last interval, which is not counted, and for sharing the host), and
#   CPU alone at least 1.5 s;
# - /metrics: every line is Prometheus text format 0.0.4, its CPU figure is
#   within 5% of /proc/PID/stat read at the same moment;
# - `berth usage` and `berth top --once` show the VMs;
# - berthd killed with SIGKILL while a VM burns: the restarted berthd
#   continues its records, so the sum still matches /proc (no double count).
# Needs /dev/kvm (skipped without), curl and jq.
set -u
build=${1:-build}
berth=$build/berth
berthd=$build/berthd
burn=$build/guest/burn.elf
idle=$build/guest/idle.elf
passed=0 failed=0 skipped=0
tmp=$(mktemp -d /tmp/berth-meter.XXXXXX)
state=$tmp/state
sock=$tmp/api.sock
dpid=
hz=$(getconf CLK_TCK)

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
trap berthd_cleanup EXIT

for t in curl jq; do
	command -v $t >/dev/null || { not_ok "tools" "$t is not installed"; finish; }
done
if [ ! -x "$berth" ] || [ ! -f "$burn" ] || [ ! -f "$idle" ]; then
	not_ok "build" "$berth, $burn or $idle is missing (make)"
	finish
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip "metering" "no usable /dev/kvm on this machine"
	finish
fi

start_daemon() {
	"$berthd" --state-dir "$state" --socket "$sock" --sample-interval 0.5 \
		--log "$tmp/berthd.log" 2>>"$tmp/berthd.err" &
	dpid=$!
	for _ in $(seq 50); do
		api GET /v1/health
		[ "$code" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# cpu_ns PID: utime + stime of the process in ns (fields 14 and 15 of
# /proc/PID/stat, after the command name); empty once it is gone.
cpu_ns() {
	local line rest
	{ read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
	rest=${line##*) }
	set -- $rest
	echo $(((${12} + ${13}) * 1000000000 / hz))
}

# within A B PCT: |A - B| <= PCT% of B.
within() { awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= b * p / 100) }'; }

# follow PID: read its CPU time until it is gone; the last value in $last.
follow() {
	local v
	last=
	while v=$(cpu_ns "$1"); do
		last=$v
		sleep 0.02
	done
}

start_daemon || { not_ok "berthd starts" "$(tail -3 "$tmp/berthd.err")"; finish; }
ok "berthd starts with --sample-interval 0.5"
truncate -s 32M "$tmp/disk.img"

# ---- a guest that burns 3 s and writes 16 MiB -------------------------------

api POST /v1/vms "{\"name\":\"meter-1\",\"kernel\":\"$(realpath "$burn")\",\"memory_mib\":64,\"cmdline\":\"secs=3 disk_mib=16\",\"disks\":[{\"path\":\"$tmp/disk.img\"}]}"
id=$(jf .id)
api POST /v1/vms/meter-1/start
pid=$(jf .pid)
check "start the burning guest" '[ "$code" = 200 ] && [ "$(jf .state)" = running ]' "$code $body"
sleep 1.5

# /metrics while it burns, between two readings of /proc.
before=$(cpu_ns "$pid")
curl -s -D "$tmp/headers" -o "$tmp/metrics" --unix-socket "$sock" http://berthd/metrics
after=$(cpu_ns "$pid")
m=$(sed -n "s/^berth_vm_cpu_seconds_total{vm=\"$id\",name=\"meter-1\"} //p" "$tmp/metrics")
m_ns=$(awk -v s="$m" 'BEGIN { printf "%d", s * 1e9 }')
echo "# /proc before ${before:-?} ns, /metrics ${m_ns} ns, /proc after ${after:-?} ns"
check "/metrics: Content-Type text/plain; version=0.0.4" 'grep -qi "^Content-Type: text/plain; version=0.0.4" "$tmp/headers"' "$(cat "$tmp/headers")"
check "/metrics CPU is within 5% of /proc/PID/stat at scrape time" '[ -n "$after" ] && within "$m_ns" "$after" 5 && [ "$m_ns" -ge "$before" ]' "metrics $m_ns, /proc $before..$after"

# Every line is a HELP, a TYPE or a sample of the family last typed.
name='[a-zA-Z_:][a-zA-Z0-9_:]*'
lval='"([^"\\]|\\[\\"n])*"'
label="[a-zA-Z_][a-zA-Z0-9_]*=$lval"
value='[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?'
bad=$(grep -Evc "^# HELP $name .*\$|^# TYPE $name (counter|gauge|untyped)\$|^$name(\{$label(,$label)*\})? $value\$" "$tmp/metrics")
check "/metrics: every line matches the exposition grammar" '[ "$bad" = 0 ]' "$bad bad lines: $(grep -Ev "^# |^$name(\{$label(,$label)*\})? $value\$" "$tmp/metrics" | head -3)"
order=$(awk '/^# TYPE / { if ($3 in seen) { print "twice: " $3; exit } seen[$3] = 1; fam = $3; next }
	/^#/ { next }
	{ n = $0; sub(/[{ ].*/, "", n); if (n != fam) { print "outside its family: " $0; exit } }' "$tmp/metrics")
check "/metrics: families typed once, samples under their TYPE" '[ -z "$order" ]' "$order"
for metric in berthd_up berthd_build_info berth_vms berth_vm_state berth_vm_vcpus \
	berth_vm_steal_seconds_total berth_vm_memory_resident_bytes \
	berth_vm_disk_write_bytes_total berth_vm_disk_read_ops_total \
	berth_vm_net_rx_bytes_total berth_vm_uptime_seconds; do
	grep -q "^# TYPE $metric " "$tmp/metrics" || missing="${missing:-} $metric"
done
check "/metrics: the documented metric names" '[ -z "${missing:-}" ]' "missing:${missing:-}"
check "/metrics: 16 MiB written to virtio-blk0 by now" 'grep -q "^berth_vm_disk_write_bytes_total{vm=\"$id\",name=\"meter-1\",disk=\"virtio-blk0\"} 16777216$" "$tmp/metrics"' "$(grep disk_write "$tmp/metrics")"

follow "$pid"
api GET /v1/vms/meter-1
for _ in $(seq 50); do
	[ "$(jf .state)" = stopped ] && break
	sleep 0.1
	api GET /v1/vms/meter-1
done
check "the guest passed and stopped" '[ "$(jf .state)" = stopped ] && [ "$(jf .exit_status)" = 1 ]' "$body"
api GET "/v1/usage?vm=meter-1&records=1"
cpu=$(jf '.vms[0].cpu_ns')
steal=$(jf '.vms[0].steal_ns')
echo "# last /proc/PID/stat ${last:-?} ns, usage records $cpu ns (steal $steal ns) in $(jf '.vms[0].records') records"
check "usage: CPU within 5% of the last /proc/PID/stat" '[ -n "$last" ] && within "$cpu" "$last" 5' "records $cpu, /proc $last"
check "usage: a 3 s burn is 2.5 s of CPU + steal, 1.5 s of CPU at least" '[ $((cpu + steal)) -ge 2500000000 ] && [ "$cpu" -ge 1500000000 ]' "cpu $cpu steal $steal"
check "usage: the records add up to the sum" '[ "$(jf "[.records[].cpu_ns] | add")" = "$cpu" ]' "$body"
check "usage: exactly 16 MiB written, in 64 writes of 256 KiB" '[ "$(jf ".vms[0].disk_write_bytes")" = 16777216 ] && [ "$(jf ".vms[0].disk_write_ops")" = 64 ]' "$(jf '.vms[0]')"
check "usage: uptime and memory" 'awk -v u="$(jf ".vms[0].uptime_s")" -v m="$(jf ".vms[0].mem_gib_s")" "BEGIN { exit !(u >= 3 && u < 10 && m > 0) }"' "$(jf '.vms[0]')"
check "usage: records follow each other" '[ "$(jf "[.records as \$r | range(1; \$r | length) | select(\$r[.].t_start != \$r[. - 1].t_end)] | length")" = 0 ]' "$(jf '[.records[] | [.t_start, .t_end]]')"

export BERTH_SOCKET=$sock
"$berth" usage >"$tmp/report"
check "berth usage: a row for the VM and a total" 'grep -Eq "^$id +meter-1 +[0-9]+\.[0-9]{3} " "$tmp/report" && grep -q "^TOTAL " "$tmp/report"' "$(cat "$tmp/report")"
check "berth usage --vm --json: the same CPU" '[ "$("$berth" usage --vm "$id" --json | jq -r ".vms[0].cpu_ns")" = "$cpu" ]'
check "berth usage --since 1h --until now: the VM" '"$berth" usage --since 1h --until "$(date +%s)" | grep -q "^$id "'
"$berth" usage --since tomorrow >/dev/null 2>"$tmp/err"
rc=$?
check "berth usage --since tomorrow: exit 2" '[ $rc = 2 ] && grep -q since "$tmp/err"' "rc $rc: $(cat "$tmp/err")"
api GET "/v1/usage?since=2999-01-01T00:00:00Z"
check "/v1/usage with since after until: 400" '[ "$code" = 400 ] && [ "$(jf .field)" = since ]' "$code $body"
api GET "/v1/usage?vm=nobody"
check "/v1/usage of an unknown VM: 404" '[ "$code" = 404 ]' "$code $body"

# ---- berth top ----------------------------------------------------------------

api POST /v1/vms "{\"name\":\"idle-1\",\"kernel\":\"$(realpath "$idle")\",\"memory_mib\":64}"
api POST /v1/vms/idle-1/start
"$berth" top --once --interval 0.5 >"$tmp/top"
check "berth top --once: the idle VM running at about 0% CPU" 'grep -Eq "^[0-9a-f]{12} +idle-1 +running +1 +[0-9]\.[0-9] " "$tmp/top" && head -1 "$tmp/top" | grep -q "1 running"' "$(cat "$tmp/top")"
api POST /v1/vms/idle-1/stop '{"force": true}'

# ---- a berthd restart in the middle of a VM's life ------------------------------

api POST /v1/vms "{\"name\":\"meter-2\",\"kernel\":\"$(realpath "$burn")\",\"memory_mib\":64,\"cmdline\":\"secs=0\"}"
api POST /v1/vms/meter-2/start
pid=$(jf .pid)
sleep 1.2
kill -9 "$dpid"
{ wait "$dpid"; } 2>/dev/null
dpid=
sleep 0.5
start_daemon
check "berthd restarts and re-adopts the burning VM" '[ "$code" = 200 ] && grep -q "re-adopted pid $pid" "$tmp/berthd.log"'
sleep 1.2
# A re-adopted VM is not berthd's child: the stop's own look is its last.
last=$(cpu_ns "$pid")
api POST /v1/vms/meter-2/stop '{"timeout_s": 10}'
check "stop it (graceful)" '[ "$(jf .state)" = stopped ]' "$body"
api GET "/v1/usage?vm=meter-2"
cpu=$(jf '.vms[0].cpu_ns')
echo "# /proc before the stop ${last:-?} ns, usage records $cpu ns"
check "usage across a berthd restart: within 5% of /proc (no double count)" '[ -n "$last" ] && within "$cpu" "$last" 5' "records $cpu, /proc $last"

kill -TERM "$dpid"
wait "$dpid"
dpid=
check "no error lines in berthd's log" '! grep -q "error:" "$tmp/berthd.log"' "$(grep "error:" "$tmp/berthd.log" | head -3)"
finish
