#!/usr/bin/env bash
# Network benchmark: the netbench guest (guest/netbench.c) on berth and on
# QEMU, same guest ELF, same guest options, interleaved round by round.
# See bench/README.md.
#
#   bench/net/run.sh [--runs N] [--build DIR] [--secs S] [--sizes LIST]
#                    [--scenarios LIST] [--opts STR] [--retries N] [--quiet SECS]
#
# Markdown tables on stdout; every sample in DIR/bench/net.csv.
# awk programs are passed in single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

all_scenarios=g2g,g2g-irq,tap-tx,tap-tx-irq,tap-rx,tap-rx-irq

usage() {
	echo "usage: $0 [--runs N] [--build DIR] [--secs S] [--sizes LIST] [--scenarios LIST] [--opts STR] [--retries N] [--quiet SECS]"
	echo "  --runs N          interleaved rounds (default 5); each runs every scenario and size on every VMM"
	echo "  --build DIR       berth build directory (default build, in the repo root)"
	echo "  --secs S          seconds of traffic per test (default 5)"
	echo "  --sizes LIST      frame sizes in bytes, Ethernet header included, 60..1514 (default 64,1514)"
	echo "  --scenarios LIST  comma-separated, from $all_scenarios"
	echo "                    (default g2g,tap-tx,tap-rx)"
	echo "                    g2g:    guest to guest; berth: two VMs on a \`berth switch\`,"
	echo "                            QEMU: two VMs joined by -netdev stream over a Unix socket"
	echo "                    tap-tx: guest to host through a tap in a network namespace"
	echo "                    tap-rx: host to guest through the tap (a UDP flood from the host)"
	echo "                    -irq:   the guests take MSI-X interrupts (irq=1) instead of polling"
	echo "  --opts STR        guest options for both VMMs (default 'event_idx=1')"
	echo "  --retries N       a failed run (wrong exit status, missing results) is logged and run again,"
	echo "                    up to N times in all (default 0: the first failure aborts the benchmark)"
	echo "  --quiet SECS      before each scenario and size, wait up to SECS seconds (default 0) for a"
	echo "                    quiet host: other processes under 0.1 CPUs for 2 s (the host is shared)"
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=5
build=$repo/build
secs=5
sizes=64,1514
scenarios=g2g,tap-tx,tap-rx
opts="event_idx=1"
retries=0
quiet=0
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=${2:?--runs needs a number}; shift 2 ;;
	--build) build=${2:?--build needs a directory}; shift 2 ;;
	--secs) secs=${2:?--secs needs a number}; shift 2 ;;
	--sizes) sizes=${2:?--sizes needs a list}; shift 2 ;;
	--scenarios) scenarios=${2:?--scenarios needs a list}; shift 2 ;;
	--opts) opts=${2?--opts needs a string}; shift 2 ;;
	--retries) retries=${2:?--retries needs a number}; shift 2 ;;
	--quiet) quiet=${2:?--quiet needs a number of seconds}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
for v in runs secs; do
	case ${!v} in '' | *[!0-9]* | 0) echo "--$v: '${!v}' is not a positive number" >&2; exit 2 ;; esac
done
case $retries in '' | *[!0-9]*) echo "--retries: '$retries' is not a number" >&2; exit 2 ;; esac
case $quiet in '' | *[!0-9]*) echo "--quiet: '$quiet' is not a number" >&2; exit 2 ;; esac
IFS=, read -r -a size_list <<<"$sizes"
for s in "${size_list[@]}"; do
	case $s in '' | *[!0-9]*) echo "--sizes: '$s' is not a number" >&2; exit 2 ;; esac
	if [ "$s" -lt 60 ] || [ "$s" -gt 1514 ]; then
		echo "--sizes: $s is not in 60..1514" >&2
		exit 2
	fi
done
IFS=, read -r -a scen_list <<<"$scenarios"
for s in "${scen_list[@]}"; do
	case ,$all_scenarios, in *",$s,"*) ;; *) echo "--scenarios: unknown scenario '$s' (known: $all_scenarios)" >&2; exit 2 ;; esac
done

if [ ! -e /dev/kvm ]; then
	echo "net benchmark: /dev/kvm is missing, nothing to measure (skipped)"
	exit 0
fi
for f in "$build/berth" "$build/guest/netbench.elf"; do
	if [ ! -e "$f" ]; then
		echo "error: $f not found (run make, or pass --build)" >&2
		exit 1
	fi
done
if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "error: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86);" \
		"this benchmark is a comparison and needs it" >&2
	exit 1
fi
# The tap scenarios need a network namespace and a tap device: root, ip.
need_tap=0
for s in "${scen_list[@]}"; do case $s in tap-*) need_tap=1 ;; esac; done
if [ "$need_tap" = 1 ] && { [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null ||
	! command -v ping >/dev/null || [ ! -c /dev/net/tun ]; }; then
	echo "note: the tap scenarios need root, ip (iproute2), ping (iputils-ping) and" \
		"/dev/net/tun; skipped" >&2
	kept=()
	for s in "${scen_list[@]}"; do case $s in tap-*) ;; *) kept+=("$s") ;; esac; done
	scen_list=("${kept[@]}")
	need_tap=0
	if [ ${#scen_list[@]} = 0 ]; then
		echo "net benchmark: nothing left to measure (skipped)"
		exit 0
	fi
fi
# QEMU's in-kernel data path (vhost-net) is measured as a third VMM on the
# tap scenarios when the host has it.
vhost=0
if [ "$need_tap" = 1 ] && [ -c /dev/vhost-net ] && { : <>/dev/vhost-net; } 2>/dev/null; then
	vhost=1
elif [ "$need_tap" = 1 ]; then
	echo "note: no usable /dev/vhost-net; QEMU runs with its default user-space tap path only" >&2
fi

mkdir -p "$build/bench"
build=$(cd "$build" && pwd)
out=$build/bench
work=$(mktemp -d "$out/net-XXXXXX")
ns=berth-nb-$$
tap=nbtap0
host_ip=10.80.0.1 guest_ip=10.80.0.2
pids=()   # background measure processes (each runs timeout, which runs a VMM)
swpid=    # the berth switch of the current test
cleanup() {
	local p c
	for p in "${pids[@]}"; do
		# timeout passes SIGTERM on to the VMM it runs.
		for c in $(pgrep -P "$p" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
	done
	if [ -n "$swpid" ]; then kill "$swpid" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	[ "$need_tap" = 1 ] && ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Private copies: a concurrent `make` must not swap the binaries between
# rounds (the work tree is shared).
cp "$build/berth" "$work/berth"
cp "$build/guest/netbench.elf" "$work/netbench.elf"
berth=$work/berth
guest=$work/netbench.elf
# Helpers, built when missing or older than their source: measure (from
# the launch benchmark) runs a command and reports its CPU time; udpflood
# is the host side of tap-rx.
for src in "$here/../launch/measure.c" "$here/udpflood.c"; do
	prog=$out/$(basename "$src" .c)
	if [ ! -x "$prog" ] || [ "$src" -nt "$prog" ]; then
		gcc -O2 -Wall -Wextra -Werror -o "$prog" "$src"
	fi
done
measure=$out/measure
udpflood=$out/udpflood

if [ "$need_tap" = 1 ]; then
	ip netns add "$ns"
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip tuntap add "$tap" mode tap
	ip netns exec "$ns" ip link set "$tap" up
	ip netns exec "$ns" ip addr add "$host_ip/24" dev "$tap"
	tap_mac=$(ip netns exec "$ns" cat "/sys/class/net/$tap/address")
fi
tapstat() { ip netns exec "$ns" cat "/sys/class/net/$tap/statistics/$1"; }

mac_rx=52:54:00:00:4e:02 mac_tx=52:54:00:00:4e:01
scen_irq() { case $1 in *-irq) echo 1 ;; *) echo 0 ;; esac; }
scen_vmms() {
	case $1 in
	tap-*) if [ "$vhost" = 1 ]; then echo berth qemu qemu-vhost; else echo berth qemu; fi ;;
	*) echo berth qemu ;;
	esac
}

# vm_cmd VMM CMDLINE MAC NET: the command line, as words in the global
# array cmd. NET: switch=PATH | stream-server=PATH | stream-client=PATH | tap.
vm_cmd() {
	local vmm=$1 cl=$2 mac=$3 net=$4 nd
	if [ "$vmm" = berth ]; then
		case $net in
		switch=*) nd=$net ;;
		tap) nd=tap=$tap ;;
		esac
		cmd=("$berth" run --mem 128M --kernel "$guest" --cmdline "$cl" --serial stdio
			--net "$nd,mac=$mac")
	else
		case $net in
		stream-server=*) nd="stream,id=n0,server=on,addr.type=unix,addr.path=${net#*=}" ;;
		stream-client=*) nd="stream,id=n0,server=off,addr.type=unix,addr.path=${net#*=}" ;;
		tap) nd="tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=$([ "$vmm" = qemu-vhost ] && echo on || echo off)" ;;
		esac
		cmd=(qemu-system-x86_64 -M q35 -enable-kvm -cpu qemu64 -m 128 -nographic -no-reboot
			-nic none -kernel "$guest" -device "isa-debug-exit,iobase=0xf4" -append "$cl"
			-netdev "$nd" -device "virtio-net-pci,netdev=n0,mac=$mac,disable-legacy=on,romfile=")
	fi
	if [ "$net" = tap ]; then cmd=(ip netns exec "$ns" "${cmd[@]}"); fi
}

# vm_start NAME: run "${cmd[@]}" in the background under timeout and
# measure; output in $work/NAME.log, "wall_ms cpu_ms maxrss status" in
# $work/NAME.res, the measure pid in the global vm_pid.
vm_start() {
	local name=$1
	rm -f "$work/$name.res"
	echo "${cmd[*]}" >"$work/$name.cmd"
	# Generous: QEMU's SeaBIOS takes 3-4 s in emulated ring 0.
	"$measure" -o "$work/$name.log" timeout -k 5 $((4 * secs + 150)) "${cmd[@]}" \
		>"$work/$name.res" &
	vm_pid=$!
	pids+=("$vm_pid")
}
vm_wait() { wait "$1" 2>/dev/null || true; }
vm_status() { awk '{ print $4 }' "$work/$1.res" 2>/dev/null; }
vm_cpu() { awk '{ printf "%.2f", $2 / 1000 }' "$work/$1.res" 2>/dev/null; }
# wait_line NAME PATTERN PID: until the log has the line (true), or the VM
# has exited or 120 s have passed (false).
wait_line() {
	local i
	for ((i = 0; i < 1200; i++)); do
		grep -aq -- "$2" "$work/$1.log" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# result NAME WHAT: the netbench result line (WHAT tx or rx), CRs removed.
result() { tr -d '\r' <"$work/$1.log" | grep -a -m1 "netbench: $2 [a-z-]*=" || true; }
# get LINE KEY: the number after " KEY=".
get() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }

csv=$out/net.csv
# Columns: 1 round, 2 scenario, 3 size (frame bytes), 4 vmm, 5 order (1: ran
# first in its round), 6 other_cpus (average CPUs busy with anything but
# this test's processes), 7 steal_cpus (CPUs taken by the hypervisor under
# this host VM: /proc/stat steal), 8-10 CPU seconds (user+sys, boot
# included) of the receiving VM, the sending VM and the berth switch,
# 11-15 sent: frames, bytes, usec, pps, MB/s (the tx guest; tap-rx: the
# host's udpflood), 16-20 received: frames, bytes, usec, pps, MB/s (the rx
# guest; tap-tx: the tap's rx counters over the tx guest's usec, its 8 END
# frames subtracted), 21 lost frames, 22 lost % of sent, 23-25 the tx
# guest's kicks, notifications and ring-full counts.
echo "round,scenario,size,vmm,order,other_cpus,steal_cpus,rx_vm_cpu_s,tx_vm_cpu_s,switch_cpu_s,sent_frames,sent_bytes,sent_usec,sent_pps,sent_mbps,recv_frames,recv_bytes,recv_usec,recv_pps,recv_mbps,lost,lost_pct,tx_kicks,tx_notifies,tx_ring_full" >"$csv"
faillog=$out/net-failures.log
: >"$faillog"
declare -A fails
failed=0

busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat; }
steal_ticks() { awk '/^cpu / { print $9 }' /proc/stat; }
child_ticks() { awk '{ print $16 + $17 }' /proc/$$/stat; }
proc_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
now() { date +%s.%N; }
hz=$(getconf CLK_TCK)

# Set by each scenario: err (empty if the run was good), logs (names of
# the logs to show on failure), and the result fields.
reset_fields() {
	err='' logs=()
	rx_cpu='' tx_cpu='' sw_cpu=''
	s_frames='' s_bytes='' s_usec='' r_frames='' r_bytes='' r_usec='' lost=''
	kicks='' notifies='' ringfull=
}
fields_from_tx() { # LINE of the tx guest
	s_frames=$(get "$1" frames) s_bytes=$(get "$1" bytes) s_usec=$(get "$1" usec)
	kicks=$(get "$1" kicks) notifies=$(get "$1" notifies) ringfull=$(get "$1" ring-full)
}
check_status() { # NAME: exit status 1 (netbench PASS)
	local st
	st=$(vm_status "$1")
	if [ "$st" != 1 ]; then
		err+="$1 exited with status ${st:-?}"
		if [ "${st:-}" = 124 ]; then err+=" (timed out)"; fi
		err+=", expected 1 (PASS); "
	fi
}

# g2g: an rx guest and a tx guest (sync=1), both on one berth switch or
# joined by a QEMU stream netdev.
run_g2g() {
	local vmm=$1 size=$2 irq=$3 sock=$work/sw.sock rxnet txnet p_rx p_tx i t r
	if [ "$vmm" = berth ]; then
		rm -f "$sock" "$sock.ctl"
		"$berth" switch --socket "$sock" >"$work/switch.log" 2>&1 &
		swpid=$!
		for ((i = 0; i < 100; i++)); do [ -S "$sock" ] && break; sleep 0.05; done
		rxnet=switch=$sock txnet=switch=$sock
		logs+=(switch)
	else
		sock=$work/stream.sock
		rm -f "$sock"
		rxnet=stream-server=$sock txnet=stream-client=$sock
	fi
	vm_cmd "$vmm" "mode=rx secs=$((secs + 120)) $opts irq=$irq" "$mac_rx" "$rxnet"
	vm_start rx
	p_rx=$vm_pid
	logs+=(rx)
	if ! wait_line rx 'netbench: rx ready' "$p_rx"; then
		err+="the rx guest did not get ready; "
	else
		vm_cmd "$vmm" "mode=tx dst=$mac_rx size=$size secs=$secs sync=1 $opts irq=$irq" "$mac_tx" "$txnet"
		vm_start tx
		p_tx=$vm_pid
		logs+=(tx)
		vm_wait "$p_tx"
		check_status tx
	fi
	# The rx guest stops at the END frames, or 2 s after the last frame.
	vm_wait "$p_rx"
	check_status rx
	if [ -n "$swpid" ]; then
		sw_cpu=$(proc_ticks "$swpid" | awk -v hz="$hz" '{ printf "%.2f", $1 / hz }')
		kill "$swpid" 2>/dev/null || true
		wait "$swpid" 2>/dev/null || true
		swpid=
	fi
	t=$(result tx tx) r=$(result rx rx)
	[ -n "$t" ] || err+="no tx result; "
	[ -n "$r" ] || err+="no rx result; "
	[ -n "$r" ] && [ "$(get "$r" frames)" = 0 ] && err+="the rx guest received nothing; "
	[ -n "$err" ] && return
	fields_from_tx "$t"
	r_frames=$(get "$r" frames) r_bytes=$(get "$r" bytes) r_usec=$(get "$r" usec)
	lost=$(get "$r" lost)
	rx_cpu=$(vm_cpu rx) tx_cpu=$(vm_cpu tx)
}

# tap-tx: one tx guest sends to the tap's MAC; the host counts what the
# tap received (the frames reach the namespace's stack, which drops them:
# unknown EtherType).
run_tap_tx() {
	local vmm=$1 size=$2 irq=$3 p0 b0 p1 b1 t
	p0=$(tapstat rx_packets) b0=$(tapstat rx_bytes)
	vm_cmd "$vmm" "mode=tx dst=$tap_mac size=$size secs=$secs $opts irq=$irq" "$mac_tx" tap
	vm_start tx
	logs+=(tx)
	vm_wait "$vm_pid"
	check_status tx
	p1=$(tapstat rx_packets) b1=$(tapstat rx_bytes)
	t=$(result tx tx)
	[ -n "$t" ] || err+="no tx result; "
	[ -n "$err" ] && return
	fields_from_tx "$t"
	# netbench sends 8 END frames of 60 bytes after the data.
	r_frames=$((p1 - p0 - 8)) r_bytes=$((b1 - b0 - 480)) r_usec=$s_usec
	lost=$((s_frames - r_frames))
	tx_cpu=$(vm_cpu tx)
}

# tap-rx: one rx guest with an IPv4 address; the host pings it until it
# answers, then floods it with UDP for S seconds.
run_tap_rx() {
	local vmm=$1 size=$2 irq=$3 p_rx i r f
	vm_cmd "$vmm" "mode=rx ip=$guest_ip idle=1000 secs=$((secs + 120)) $opts irq=$irq" "$mac_rx" tap
	vm_start rx
	p_rx=$vm_pid
	logs+=(rx)
	if ! wait_line rx 'netbench: rx ready' "$p_rx"; then
		err+="the rx guest did not get ready; "
	else
		for ((i = 0; i < 30; i++)); do
			ip netns exec "$ns" ping -c1 -W1 -q "$guest_ip" >/dev/null 2>&1 && break
		done
		if [ "$i" = 30 ]; then
			err+="the guest did not answer ping; "
		elif ! timeout $((secs + 30)) ip netns exec "$ns" "$udpflood" "$guest_ip" 9 "$size" "$secs" \
			>"$work/flood.log" 2>&1; then
			err+="udpflood failed; "
		fi
		logs+=(flood)
	fi
	vm_wait "$p_rx"
	check_status rx
	r=$(result rx rx) f=$(grep -a '^udpflood: sent=' "$work/flood.log" 2>/dev/null || true)
	[ -n "$r" ] || err+="no rx result; "
	[ -n "$f" ] || err+="no udpflood result; "
	[ -n "$r" ] && [ "$(get "$r" udp)" = 0 ] && err+="the guest received no UDP; "
	[ -n "$err" ] && return
	s_frames=$(get "$f" sent) s_bytes=$(get "$f" bytes) s_usec=$(get "$f" usec)
	r_frames=$(get "$r" udp) r_bytes=$(get "$r" udp-bytes) r_usec=$(get "$r" usec)
	lost=$((s_frames - r_frames))
	rx_cpu=$(vm_cpu rx)
}

# run_one ROUND SCENARIO SIZE VMM ORDER: one test; appends one row. A
# failed run aborts, or with --retries is logged and run again.
run_one() {
	local round=$1 scen=$2 size=$3 vmm=$4 order=$5 irq n
	local b0 c0 w0 s0 b1 c1 w1 s1 other steal wall
	irq=$(scen_irq "$scen")
	while :; do
		reset_fields
		rm -f "$work"/*.log
		b0=$(busy_ticks) c0=$(child_ticks) s0=$(steal_ticks) w0=$(now)
		case $scen in
		g2g*) run_g2g "$vmm" "$size" "$irq" ;;
		tap-tx*) run_tap_tx "$vmm" "$size" "$irq" ;;
		tap-rx*) run_tap_rx "$vmm" "$size" "$irq" ;;
		esac
		b1=$(busy_ticks) c1=$(child_ticks) s1=$(steal_ticks) w1=$(now)
		pids=()
		[ -z "$err" ] && break
		echo "error: $vmm ($scen, $size-byte frames, round $round): $err" >&2
		{
			echo "== round $round, $scen, size $size, $vmm: $err"
			for n in "${logs[@]}"; do
				echo "-- $n: $(cat "$work/$n.cmd" 2>/dev/null)"
				tr -d '\033\r' <"$work/$n.log" 2>/dev/null
			done
		} >>"$faillog"
		for n in "${logs[@]}"; do
			echo "  $n: $(cat "$work/$n.cmd" 2>/dev/null)" >&2
			tr -d '\033\r' <"$work/$n.log" 2>/dev/null | tail -n 15 | sed 's/^/  | /' >&2
		done
		fails[$scen,$vmm]=$((${fails[$scen,$vmm]:-0} + 1))
		failed=$((failed + 1))
		if [ "$failed" -gt "$retries" ]; then
			[ "$retries" -gt 0 ] && echo "  $failed failed runs: more than --retries $retries" >&2
			echo "  (every failed run's output: $faillog)" >&2
			exit 1
		fi
		echo "  failed run $failed of at most $retries: logged in $faillog, running it again" >&2
	done
	wall=$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')
	other=$(awk -v b="$((b1 - b0))" -v c="$((c1 - c0))" -v w="$wall" -v hz="$hz" \
		'BEGIN { o = (b - c) / hz / w; printf "%.2f", o < 0 ? 0 : o }')
	steal=$(awk -v s="$((s1 - s0))" -v w="$wall" -v hz="$hz" 'BEGIN { printf "%.2f", s / hz / w }')
	awk -v OFS=, -v pre="$round,$scen,$size,$vmm,$order,$other,$steal,$rx_cpu,$tx_cpu,$sw_cpu" \
		-v sf="$s_frames" -v sb="$s_bytes" -v su="$s_usec" -v rf="$r_frames" -v rb="$r_bytes" \
		-v ru="$r_usec" -v l="$lost" -v post="$kicks,$notifies,$ringfull" 'BEGIN {
		print pre, sf, sb, su, sprintf("%.0f", sf * 1e6 / su), sprintf("%.2f", sb / su),
			rf, rb, ru, sprintf("%.0f", rf * 1e6 / ru), sprintf("%.2f", rb / ru),
			l, sprintf("%.3f", sf ? 100 * l / sf : 0), post }' >>"$csv"
}

# wait_quiet: with --quiet, until 2 s pass with other processes (nothing
# of ours runs now) under 0.1 CPUs, or --quiet seconds have gone by.
waited=0 waits=0 loud=0
wait_quiet() {
	local t b0 b1
	[ "$quiet" -gt 0 ] || return 0
	t=$(date +%s)
	while :; do
		b0=$(busy_ticks)
		sleep 2
		b1=$(busy_ticks)
		awk -v d="$((b1 - b0))" -v hz="$hz" 'BEGIN { exit !(d / hz / 2 < 0.1) }' && break
		if [ $(($(date +%s) - t)) -ge "$quiet" ]; then
			loud=$((loud + 1))
			break
		fi
	done
	waited=$((waited + $(date +%s) - t)) waits=$((waits + 1))
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
start_utc=$(date -u '+%Y-%m-%d %H:%M')
t0=$(date +%s)
for ((round = 1; round <= runs; round++)); do
	for scen in "${scen_list[@]}"; do
		read -r -a vmms <<<"$(scen_vmms "$scen")"
		for size in "${size_list[@]}"; do
			wait_quiet
			# Alternate who goes first, so neither always follows the other.
			if ((round % 2)); then
				order=("${vmms[@]}")
			else
				order=()
				for ((i = ${#vmms[@]} - 1; i >= 0; i--)); do order+=("${vmms[i]}"); done
			fi
			for i in "${!order[@]}"; do
				run_one "$round" "$scen" "$size" "${order[i]}" $((i + 1))
			done
		done
	done
	echo "round $round of $runs done ($(($(date +%s) - t0)) s)" >&2
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
end_utc=$(date -u '+%H:%M')

# stats FORMAT: "median (min-max)" of the numbers on stdin.
stats() {
	sort -g | awk -v f="$1" '{ v[NR] = $1 }
		END { if (!NR) { printf "-"; exit }
		      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf f " (" f "-" f ")", m, v[1], v[NR] }'
}
# col SCEN SIZE VMM COL: column COL of those rows (SIZE or VMM "" = any).
col() {
	awk -F, -v s="$1" -v z="$2" -v v="$3" -v c="$4" \
		'NR > 1 && $2 == s && (z == "" || $3 == z) && (v == "" || $4 == v) && $c != "" { print $c }' "$csv"
}
median() { col "$@" | stats %.6g | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
# paired SCEN SIZE COL OTHER: berth / OTHER of the same round, one per round.
# With a 5th argument Q: only rounds in which other processes kept under
# Q CPUs busy during both runs.
paired() {
	awk -F, -v s="$1" -v z="$2" -v c="$3" -v o="$4" -v q="${5:-}" 'NR > 1 && $2 == s && $3 == z {
			x[$1, $4] = $c; r[$1] = 1; if (q != "" && $6 >= q + 0) loud[$1] = 1 }
		END { for (i in r) if (x[i, o] > 0 && !(i in loud)) print x[i, "berth"] / x[i, o] }' "$csv"
}
quiet_cpus=0.10
vmm_name() {
	case $1 in
	berth) echo berth ;;
	qemu) echo QEMU ;;
	qemu-vhost) echo "QEMU vhost=on (in-kernel data path)" ;;
	esac
}
describe() {
	local how
	case $1 in *-irq) how="MSI-X interrupts (\`irq=1\`)" ;; *) how="the guests poll (\`irq=0\`)" ;; esac
	case $1 in
	g2g*) echo "guest to guest (berth: two VMs on a \`berth switch\`; QEMU: two VMs joined by \`-netdev stream\` over a Unix socket), $how" ;;
	tap-tx*) echo "guest to host through a tap (the host counts the tap's rx_packets and rx_bytes), $how" ;;
	tap-rx*) echo "host to guest through a tap (a UDP flood from the host; the guest counts), $how" ;;
	esac
}
labels() { # SCEN: what "sent" and "received" are
	case $1 in
	g2g*) sent_l="sent (tx guest)" recv_l="received (rx guest)" ;;
	tap-tx*) sent_l="sent (guest)" recv_l="received (host, tap counters)" ;;
	tap-rx*) sent_l="sent (host, udpflood)" recv_l="received (guest)" ;;
	esac
}

echo "## Networking: netbench, berth against QEMU"
echo
echo "$runs interleaved rounds, $start_utc to $end_utc UTC, $(uname -r)$(
	test -d /sys/module/kvm_pvm && echo ", /dev/kvm is PVM (software virtualization)"),"
echo "$(nproc) CPUs, load average ${load0%% *} at the start and ${load1%% *} at the end."
echo "Guest: guest/netbench.elf, 128 MiB RAM, cmdline options \`$opts irq=0|1\`, $secs s of traffic per test."
echo "QEMU: $(qemu-system-x86_64 --version | head -1 | sed 's/^QEMU emulator version //'), -M q35,"
echo "virtio-net-pci (disable-legacy=on, no option ROM)$([ "$vhost" = 1 ] || [ "$need_tap" = 0 ] || echo "; no /dev/vhost-net on this host, so no vhost=on runs")."
echo "Each cell: median (min-max) over $runs runs. berth / QEMU: ratio of the medians, and"
echo "median (min-max) of the ratios within each round (the VMMs of a round ran back"
echo "to back, so a busy period of the shared host hits both); above 1: berth is faster."
echo "Frame sizes include the Ethernet header, not the FCS; MB/s is 10^6 bytes of frames per second."
echo "Raw samples: ${csv#"$build/"}."
if [ "$quiet" -gt 0 ]; then
	echo "With \`--quiet $quiet\`: $waited s spent waiting for a quiet host before $waits scenario/size"
	echo "pairs; $loud of them started with the host still busy after $quiet s."
fi
for scen in "${scen_list[@]}"; do
	read -r -a vmms <<<"$(scen_vmms "$scen")"
	labels "$scen"
	echo
	echo "### $scen: $(describe "$scen")"
	echo
	hdr="| frame | measure | unit"
	sep="| --- | --- | ---"
	for v in "${vmms[@]}"; do hdr+=" | $(vmm_name "$v")"; sep+=" | ---"; done
	hdr+=" | berth / QEMU (medians) | berth / QEMU (per round)"
	sep+=" | --- | ---"
	if [ "$vhost" = 1 ] && [ "${#vmms[@]}" = 3 ]; then
		hdr+=" | berth / QEMU vhost (medians)"
		sep+=" | ---"
	fi
	echo "$hdr |"
	echo "$sep |"
	for size in "${size_list[@]}"; do
		# Small frames: packets per second; large: MB/s.
		if [ "$size" -le 256 ]; then u=pps off=0; else u=MB/s off=1; fi
		for what in recv sent lost; do
			case $what in
			recv) c=$((19 + off)) l=$recv_l f=%.0f ;;
			sent) c=$((14 + off)) l=$sent_l f=%.0f ;;
			lost) c=22 l="lost" f=%.2f ;;
			esac
			line="| $size B | $l | $([ "$what" = lost ] && echo "% of sent" || echo "$u")"
			for v in "${vmms[@]}"; do line+=" | $(col "$scen" "$size" "$v" "$c" | stats "$f")"; done
			if [ "$what" = lost ]; then
				line+=" | | "
				[ "${#vmms[@]}" = 3 ] && line+=" | "
			else
				line+=" | $(ratio "$(median "$scen" "$size" berth "$c")" "$(median "$scen" "$size" qemu "$c")")"
				line+=" | $(paired "$scen" "$size" "$c" qemu | stats %.2f)"
				[ "${#vmms[@]}" = 3 ] &&
					line+=" | $(ratio "$(median "$scen" "$size" berth "$c")" "$(median "$scen" "$size" qemu-vhost "$c")")"
			fi
			echo "$line |"
		done
	done
	echo
	if [ -n "${fails[$scen,berth]:-}${fails[$scen,qemu]:-}${fails[$scen,qemu-vhost]:-}" ]; then
		echo "**Failed runs, not in the table (each was run again):** berth ${fails[$scen,berth]:-0}," \
			"QEMU ${fails[$scen,qemu]:-0}$([ "$vhost" = 1 ] && echo ", QEMU vhost ${fails[$scen,qemu-vhost]:-0}");" \
			"their output is in ${faillog#"$build/"}."
		echo
	fi
	cpu=""
	for v in "${vmms[@]}"; do
		case $scen in
		g2g*) cpu+="$(vmm_name "$v") rx $(col "$scen" "" "$v" 8 | stats %.1f), tx $(col "$scen" "" "$v" 9 | stats %.1f)"
			[ "$v" = berth ] && cpu+=", switch $(col "$scen" "" berth 10 | stats %.1f)" ;;
		tap-tx*) cpu+="$(vmm_name "$v") $(col "$scen" "" "$v" 9 | stats %.1f)" ;;
		tap-rx*) cpu+="$(vmm_name "$v") $(col "$scen" "" "$v" 8 | stats %.1f)" ;;
		esac
		cpu+="; "
	done
	kick=""
	if [ "${scen%-irq}" != tap-rx ]; then
		for v in "${vmms[@]}"; do
			kick+="$(vmm_name "$v") $(awk -F, -v s="$scen" -v v="$v" 'NR > 1 && $2 == s && $4 == v { k += $23; n += $24; f += $25; x += $11 }
				END { printf "%.1f frames per kick, %.2f notifications per 1000 frames, ring full at %.0f%% of kicks",
					k ? x / k : 0, x ? 1000 * n / x : 0, k ? 100 * f / k : 0 }' "$csv"); "
		done
	fi
	# The host is shared: the same ratios over the quiet rounds only.
	qr=""
	for size in "${size_list[@]}"; do
		if [ "$size" -le 256 ]; then c=19; else c=20; fi
		n=$(paired "$scen" "$size" "$c" qemu "$quiet_cpus" | wc -l)
		qr+="$size B: $n of $runs rounds"
		if [ "$n" -gt 0 ]; then
			qr+=", berth / QEMU $(paired "$scen" "$size" "$c" qemu "$quiet_cpus" | stats %.2f)"
		fi
		qr+="; "
	done
	echo "Rounds in which other processes kept under $quiet_cpus CPUs busy during both runs (received rate): ${qr%; }."
	echo
	echo "Other processes kept $(col "$scen" "" "" 6 | stats %.2f) CPUs busy during the runs;" \
		"steal time took $(col "$scen" "" "" 7 | stats %.2f) CPUs." \
		"VMM CPU seconds per run (user+sys, boot included): ${cpu%; }.${kick:+ Transmit side (guest counters): ${kick%; }.}"
done
