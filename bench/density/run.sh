#!/usr/bin/env bash
# Density benchmark: how fast berthd starts idle VMs (64 MiB each, the idle
# guest: cli; hlt) and how many run at once, with what each costs the host;
# QEMU -M microvm on the same guest for context. See bench/README.md.
#
#   bench/density/run.sh [--build DIR] [--rate N] [--max N] [--reserve-mib M]
#                        [--mem-mib M] [--qemu N]
#
# Markdown on stdout; one CSV line per VM in DIR/bench/density.csv.
# awk programs are single-quoted on purpose.
# shellcheck disable=SC2016
set -euo pipefail

usage() {
	echo "usage: $0 [--build DIR] [--rate N] [--max N] [--reserve-mib M] [--mem-mib M] [--qemu N]"
	echo "  --build DIR        berth build directory (default build, in the repo root)"
	echo "  --rate N           VMs in the timed start-rate run (default 50)"
	echo "  --max N            stop adding VMs at N (default 400; berthd holds 1024)"
	echo "  --reserve-mib M    stop before MemAvailable would drop below M MiB (default 2048)"
	echo "  --mem-mib M        guest RAM of each VM (default 64)"
	echo "  --qemu N           QEMU VMs to measure for comparison (default 20; 0: none)"
}

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../build
rate_n=50 max=400 reserve=2048 mem=64 qemu_n=20
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift 2 ;;
	--rate) rate_n=${2:?}; shift 2 ;;
	--max) max=${2:?}; shift 2 ;;
	--reserve-mib) reserve=${2:?}; shift 2 ;;
	--mem-mib) mem=${2:?}; shift 2 ;;
	--qemu) qemu_n=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
for v in "$rate_n" "$max" "$reserve" "$mem" "$qemu_n"; do
	case $v in '' | *[!0-9]*) echo "not a number: '$v'" >&2; exit 2 ;; esac
done
[ "$rate_n" -le "$max" ] || { echo "--rate must not exceed --max" >&2; exit 2; }

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "density benchmark: no usable /dev/kvm, nothing to measure (skipped)"
	exit 0
fi
build=$(cd "$build" && pwd)
berthd=$build/berthd
guest=$build/guest/idle.elf
for f in "$berthd" "$guest"; do
	[ -e "$f" ] || { echo "$f is missing (make)" >&2; exit 2; }
done
command -v curl >/dev/null && command -v jq >/dev/null || { echo "needs curl and jq" >&2; exit 2; }
mkdir -p "$build/bench"
csv=$build/bench/density.csv
work=$(mktemp -d /tmp/berth-density.XXXXXX)
state=$work/state
sock=$work/api.sock
dpid=
qpids=()

# Everything this run started goes, whatever happens.
cleanup() {
	local p
	[ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null
	for p in /proc/[0-9]*; do
		grep -qs "$state/vms/" "$p/cmdline" && kill -9 "${p#/proc/}" 2>/dev/null
	done
	for p in "${qpids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Milliseconds, without a fork (bash 5).
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; } # KiB
# rollup PID FIELD: a field of /proc/PID/smaps_rollup, KiB.
rollup() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# api METHOD PATH [BODY]: status in $code, body in $body.
api() {
	local args=(-s -o "$work/body" -w '%{http_code}' --unix-socket "$sock" -X "$1" "http://berthd$2")
	[ $# -ge 3 ] && args+=(--data-binary "$3")
	code=$(curl "${args[@]}" 2>/dev/null) || code=000
	body=
	[ ! -f "$work/body" ] || body=$(<"$work/body")
}

"$berthd" --state-dir "$state" --socket "$sock" --log "$work/berthd.log" 2>"$work/berthd.err" &
dpid=$!
for _ in $(seq 50); do
	api GET /v1/health
	[ "$code" = 200 ] && break
	sleep 0.1
done
[ "$code" = 200 ] || { echo "berthd did not start: $(tail -2 "$work/berthd.err")" >&2; exit 1; }

kernel=$(realpath "$guest")
avail0=$(meminfo MemAvailable)
slab0=$(meminfo SUnreclaim) pt0=$(meminfo PageTables) ks0=$(meminfo KernelStack)
berthd_rss0=$(rollup "$dpid" Rss)
echo "i,create_ms,start_ms,mem_available_kib" >"$csv"

# start_one I: create and start VM I (one curl each, as a script would);
# its times in $c_ms and $s_ms.
start_one() {
	local t0 t1 t2
	t0=$(now_ms)
	api POST /v1/vms "{\"name\":\"d-$1\",\"kernel\":\"$kernel\",\"memory_mib\":$mem}"
	t1=$(now_ms)
	[ "$code" = 201 ] || { why="create: $code $body"; return 1; }
	api POST "/v1/vms/d-$1/start"
	t2=$(now_ms)
	[ "$code" = 200 ] && [[ $body == *'"state": "running"'* ]] || { why="start: $code $body"; return 1; }
	c_ms=$((t1 - t0)) s_ms=$((t2 - t1))
	echo "$1,$c_ms,$s_ms,$(meminfo MemAvailable)" >>"$csv"
}

# The timed run: rate_n VMs back to back.
why=
t0=$(now_ms)
for i in $(seq "$rate_n"); do
	start_one "$i" || { echo "VM $i: $why" >&2; exit 1; }
done
rate_ms=$(($(now_ms) - t0))
per_vm_kib=$(((avail0 - $(meminfo MemAvailable)) / rate_n))

# Then more, until the cap, a failure, or too little memory left for two
# more VMs above the reserve.
n=$rate_n stop="the cap (--max $max)"
while [ "$n" -lt "$max" ]; do
	left=$(($(meminfo MemAvailable) / 1024 - reserve))
	if [ "$left" -lt $((2 * per_vm_kib / 1024 + 64)) ]; then
		stop="MemAvailable near the ${reserve} MiB reserve"
		break
	fi
	if ! start_one $((n + 1)); then
		stop="a failed start ($why)"
		break
	fi
	n=$((n + 1))
	[ $((n % 100)) = 0 ] && echo "  $n VMs running, MemAvailable $(($(meminfo MemAvailable) / 1024)) MiB" >&2
done
all_ms=$(($(now_ms) - t0))

# Let them settle, then measure every VM process.
sleep 3
avail1=$(meminfo MemAvailable)
slab1=$(meminfo SUnreclaim) pt1=$(meminfo PageTables) ks1=$(meminfo KernelStack)
pids=$(curl -s --unix-socket "$sock" http://berthd/v1/vms | jq -r '.vms[] | select(.state == "running") | .pid')
running=$(wc -w <<<"$pids")
rss=0 pss=0 anon=0
for p in $pids; do
	rss=$((rss + $(rollup "$p" Rss)))
	pss=$((pss + $(rollup "$p" Pss)))
	anon=$((anon + $(rollup "$p" Anonymous)))
done
berthd_rss1=$(rollup "$dpid" Rss)

# What idling costs: CPU of berthd (its sampler looks at every VM every
# 5 s) and of all the VMs over 10 s.
cpu_window=10
b0=$(ticks "$dpid") v0=0
for p in $pids; do v0=$((v0 + $(ticks "$p"))); done
sleep "$cpu_window"
b1=$(ticks "$dpid") v1=0
for p in $pids; do v1=$((v1 + $(ticks "$p"))); done
hz=$(getconf CLK_TCK)

# Tear down: stop and delete each.
t0=$(now_ms)
for i in $(seq "$n"); do
	api DELETE "/v1/vms/d-$i?force=1"
	[ "$code" = 200 ] || echo "delete d-$i: $code $body" >&2
done
del_ms=$(($(now_ms) - t0))
kill -TERM "$dpid"
wait "$dpid" || true
dpid=

# QEMU on the same guest, for context.
q_rss=0 q_pss=0 q_n=0 q_ms=0
if [ "$qemu_n" -gt 0 ] && command -v qemu-system-x86_64 >/dev/null; then
	sleep 2
	qa0=$(meminfo MemAvailable)
	t0=$(now_ms)
	for i in $(seq "$qemu_n"); do
		qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off -enable-kvm \
			-cpu qemu64 -m "$mem" -display none -monitor none -no-reboot \
			-serial "file:$work/qemu-$i.log" -kernel "$guest" \
			</dev/null >"$work/qemu-$i.out" 2>&1 &
		qpids+=($!)
		for _ in $(seq 200); do
			grep -qs "idle: halting" "$work/qemu-$i.log" && break
			sleep 0.01
		done
		grep -qs "idle: halting" "$work/qemu-$i.log" || { echo "QEMU $i did not boot: $(cat "$work/qemu-$i.out")" >&2; break; }
		q_n=$i
	done
	q_ms=$(($(now_ms) - t0))
	sleep 3
	qa1=$(meminfo MemAvailable)
	for p in "${qpids[@]}"; do
		q_rss=$((q_rss + $(rollup "$p" Rss)))
		q_pss=$((q_pss + $(rollup "$p" Pss)))
	done
	kill -9 "${qpids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	qpids=()
fi

per() { awk -v a="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.1f", a / n / 1024; else printf "-" }'; }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { if (ms > 0) printf "%.1f", n * 1000 / ms; else printf "-" }'; }
med() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }
proj=$(awk -v a="$avail0" -v r="$reserve" -v d="$((avail0 - avail1))" -v n="$running" \
	'BEGIN { if (d > 0) printf "%d", (a / 1024 - r) / (d / n / 1024); else print "-" }')

echo "## Density: idle ${mem} MiB VMs under berthd ($(nproc) CPUs, $(($(meminfo MemTotal) / 1024)) MiB RAM)"
echo
echo "| measure | berth (berthd) | QEMU microvm |"
echo "| --- | --- | --- |"
echo "| VMs started back to back | $rate_n in $rate_ms ms: **$(rate "$rate_n" "$rate_ms") VMs/s** (create median $(tail -n +2 "$csv" | head -n "$rate_n" | cut -d, -f2 | med) ms, start median $(tail -n +2 "$csv" | head -n "$rate_n" | cut -d, -f3 | med) ms) | $q_n in $q_ms ms to the guest's first line: $(rate "$q_n" "$q_ms") VMs/s |"
echo "| VMs running at once | **$running** (stopped at $stop; $(rate "$n" "$all_ms") VMs/s overall) | $q_n measured |"
echo "| RSS per VM process | $(per "$rss" "$running") MiB (anonymous $(per "$anon" "$running") MiB) | $(per "$q_rss" "$q_n") MiB |"
echo "| PSS per VM process | $(per "$pss" "$running") MiB | $(per "$q_pss" "$q_n") MiB |"
echo "| MemAvailable drop per VM | **$(per "$((avail0 - avail1))" "$running") MiB** | $(per "$((${qa0:-0} - ${qa1:-0}))" "$q_n") MiB |"
echo "| ... of which kernel: page tables, unreclaimable slab, stacks | $(per "$((pt1 - pt0))" "$running"), $(per "$((slab1 - slab0))" "$running"), $(per "$((ks1 - ks0))" "$running") MiB | |"
echo "| VMs that would fit above a ${reserve} MiB reserve, at that cost | ~$proj | |"
echo "| berthd RSS | $((berthd_rss0 / 1024)) MiB with none, $((berthd_rss1 / 1024)) MiB with $running | |"
echo "| CPU while idle, over ${cpu_window} s | berthd $(awk -v t=$((b1 - b0)) -v hz="$hz" -v w="$cpu_window" 'BEGIN { printf "%.2f", t / hz / w * 100 }')% of a CPU (sampling every 5 s), all VMs $(awk -v t=$((v1 - v0)) -v hz="$hz" -v w="$cpu_window" 'BEGIN { printf "%.2f", t / hz / w * 100 }')% | |"
echo "| stop + delete all | $n in $del_ms ms | |"
