#!/usr/bin/env bash
# Where a frame's time goes, on berth and on QEMU: runs one scenario of
# bench/net/run.sh and, from 0.5 s after the traffic starts until 1.5 s
# before it ends, counts with `perf stat --per-thread` on every process of
# the data path (the VMMs and the berth switch); divides CPU time, syscalls,
# context switches and KVM events by the frames that went through in that
# window (the guest's rate, or the tap's around the window, times the
# window). The tracepoints slow the data path, so the rates are lower than
# run.sh's. See bench/README.md.
#
#   bench/net/profile.sh [--build DIR] [--secs S] [--scenario g2g|tap-tx|tap-rx]
#                        [--size N] [--opts STR] [--irq 0|1]
#
# Markdown table on stdout; the perf output in DIR/bench/net-profile-*.txt.
# Needs perf and root (tracepoints; network namespace for the tap).
# shellcheck disable=SC2016
set -euo pipefail

usage() {
	echo "usage: $0 [--build DIR] [--secs S] [--scenario g2g|tap-tx|tap-rx] [--size N] [--opts STR] [--irq 0|1]"
	echo "  --secs S      seconds of traffic (default 6, at least 4); perf counts S - 2 of them"
	echo "  --scenario    as in run.sh (default g2g); --size: frame bytes (default 64)"
}

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../build
secs=6
scenario=g2g
size=64
opts="event_idx=1"
irq=0
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift 2 ;;
	--secs) secs=${2:?}; shift 2 ;;
	--scenario) scenario=${2:?}; shift 2 ;;
	--size) size=${2:?}; shift 2 ;;
	--opts) opts=${2?}; shift 2 ;;
	--irq) irq=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case $scenario in g2g | tap-tx | tap-rx) ;; *) echo "--scenario: g2g, tap-tx or tap-rx" >&2; exit 2 ;; esac
case $secs in '' | *[!0-9]* | [0-3]) echo "--secs: at least 4" >&2; exit 2 ;; esac
window=$((secs - 2))
if [ ! -e /dev/kvm ] || ! command -v perf >/dev/null || ! command -v qemu-system-x86_64 >/dev/null ||
	[ "$(id -u)" -ne 0 ]; then
	echo "net profile: needs /dev/kvm, perf, qemu-system-x86_64 and root (skipped)"
	exit 0
fi

mkdir -p "$build/bench"
build=$(cd "$build" && pwd)
out=$build/bench
work=$(mktemp -d "$out/net-XXXXXX")
ns=berth-nbp-$$ tap=nbtap0 guest_ip=10.80.0.2
bg=() swpid=
cleanup() {
	local p c
	for p in "${bg[@]}"; do
		for c in $(pgrep -P "$p" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
	done
	if [ -n "$swpid" ]; then kill "$swpid" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$build/berth" "$work/berth"
cp "$build/guest/netbench.elf" "$work/netbench.elf"
berth=$work/berth guest=$work/netbench.elf
if [ ! -x "$out/udpflood" ] || [ "$here/udpflood.c" -nt "$out/udpflood" ]; then
	gcc -O2 -Wall -Wextra -Werror -o "$out/udpflood" "$here/udpflood.c"
fi
if [ "$scenario" != g2g ]; then
	ip netns add "$ns"
	ip netns exec "$ns" ip tuntap add "$tap" mode tap
	ip netns exec "$ns" ip link set "$tap" up
	ip netns exec "$ns" ip addr add 10.80.0.1/24 dev "$tap"
	tap_mac=$(ip netns exec "$ns" cat "/sys/class/net/$tap/address")
fi
tapstat() { ip netns exec "$ns" cat "/sys/class/net/$tap/statistics/$1"; }
mac_rx=52:54:00:00:4e:02 mac_tx=52:54:00:00:4e:01

# vm ROLE VMM CMDLINE MAC NET: start a VM (as run.sh does) in the
# background; its log is $work/ROLE.log.
vm() {
	local role=$1 vmm=$2 cl="$3 $opts irq=$irq" mac=$4 net=$5 nd
	local -a cmd
	if [ "$vmm" = berth ]; then
		case $net in switch=*) nd=$net ;; tap) nd=tap=$tap ;; esac
		cmd=("$berth" run --mem 128M --kernel "$guest" --cmdline "$cl" --serial stdio --net "$nd,mac=$mac")
	else
		case $net in
		server=* | client=*) nd="stream,id=n0,server=$([ "${net%%=*}" = server ] && echo on || echo off),addr.type=unix,addr.path=${net#*=}" ;;
		tap) nd="tap,id=n0,ifname=$tap,script=no,downscript=no" ;;
		esac
		# debug-threads=on: the vCPU threads are named "CPU n/KVM".
		cmd=(qemu-system-x86_64 -name "netbench,debug-threads=on" -M q35 -enable-kvm -cpu qemu64 -m 128 -nographic -no-reboot
			-nic none -kernel "$guest" -device "isa-debug-exit,iobase=0xf4" -append "$cl"
			-netdev "$nd" -device "virtio-net-pci,netdev=n0,mac=$mac,disable-legacy=on,romfile=")
	fi
	[ "$net" = tap ] && cmd=(ip netns exec "$ns" "${cmd[@]}")
	timeout -k 5 $((secs + 150)) "${cmd[@]}" </dev/null >"$work/$role.log" 2>&1 &
	bg+=($!)
	echo "${cmd[*]}" >"$work/$role.cmd"
}
wait_line() { # ROLE PATTERN
	local i
	for ((i = 0; i < 1200; i++)); do
		grep -aq -- "$2" "$work/$1.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "error: no '$2' from the $1 VM: $(tail -c 500 "$work/$1.log")" >&2
	exit 1
}
# The VMM process started by the timeout of background job $1.
vmm_pid() { pgrep -P "$1" | head -1; }
result() { tr -d '\r' <"$work/$1.log" | grep -a -m1 "netbench: $2 [a-z-]*=" || true; }
get() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }

events=(
	task-clock context-switches
	kvm:kvm_mmio kvm:kvm_userspace_exit kvm:kvm_msi_set_irq kvm:kvm_vcpu_wakeup
	syscalls:sys_enter_sendmsg syscalls:sys_enter_sendto syscalls:sys_enter_sendmmsg
	syscalls:sys_enter_recvmsg syscalls:sys_enter_recvfrom syscalls:sys_enter_recvmmsg
	syscalls:sys_enter_read syscalls:sys_enter_readv syscalls:sys_enter_write syscalls:sys_enter_writev
	syscalls:sys_enter_epoll_wait syscalls:sys_enter_epoll_pwait syscalls:sys_enter_ppoll
	syscalls:sys_enter_poll syscalls:sys_enter_ioctl syscalls:sys_enter_io_uring_enter
)
ev=$(
	IFS=,
	echo "${events[*]}"
)

echo "## netbench profile: $scenario, $size-byte frames, \`$opts irq=$irq\`, $(date -u '+%Y-%m-%d %H:%M') UTC"
echo
echo "perf stat --per-thread over $window s of the $secs s of traffic. Per frame that went through the"
echo "process (tx VM and switch: frames sent; rx VM: frames received): the guest's rate, or the tap's"
echo "around the window, times the window. vCPU: the vCPU thread (guest time included: a polling guest keeps it busy);"
echo "other: every other thread (the VMM's I/O thread or main loop, the switch)."
echo "CPU: share of one CPU while the traffic ran."
echo
echo "| VMM | process | threads | frames/s | CPU | CPU µs/frame | send | recv | read | write | epoll/poll | ioctl | ctx sw | MMIO | MSI |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for vmm in berth qemu; do
	bg=() swpid=
	rm -f "$work"/*.log
	pids=() roles=()
	case $scenario in
	g2g)
		if [ "$vmm" = berth ]; then
			rm -f "$work/sw.sock"
			"$berth" switch --socket "$work/sw.sock" >"$work/switch.log" 2>&1 &
			swpid=$!
			for _ in $(seq 100); do [ -S "$work/sw.sock" ] && break; sleep 0.05; done
			vm rx berth "mode=rx secs=$((secs + 120))" "$mac_rx" "switch=$work/sw.sock"
			wait_line rx 'rx ready'
			vm tx berth "mode=tx dst=$mac_rx size=$size secs=$secs sync=1" "$mac_tx" "switch=$work/sw.sock"
		else
			rm -f "$work/q.sock"
			vm rx qemu "mode=rx secs=$((secs + 120))" "$mac_rx" "server=$work/q.sock"
			wait_line rx 'rx ready'
			vm tx qemu "mode=tx dst=$mac_rx size=$size secs=$secs sync=1" "$mac_tx" "client=$work/q.sock"
		fi
		wait_line tx 'netbench: rx ready'
		pids=("$(vmm_pid "${bg[1]}")" "$(vmm_pid "${bg[0]}")") roles=("tx VM" "rx VM")
		[ -n "$swpid" ] && pids+=("$swpid") roles+=(switch)
		;;
	tap-tx)
		vm tx "$vmm" "mode=tx dst=$tap_mac size=$size secs=$secs" "$mac_tx" tap
		wait_line tx 'netbench: tsc'
		pids=("$(vmm_pid "${bg[0]}")") roles=("tx VM")
		;;
	tap-rx)
		vm rx "$vmm" "mode=rx ip=$guest_ip idle=1000 secs=$((secs + 120))" "$mac_rx" tap
		wait_line rx 'rx ready'
		for _ in $(seq 30); do ip netns exec "$ns" ping -c1 -W1 -q "$guest_ip" >/dev/null 2>&1 && break; done
		ip netns exec "$ns" "$out/udpflood" "$guest_ip" 9 "$size" "$secs" >"$work/flood.log" 2>&1 &
		bg+=($!)
		pids=("$(vmm_pid "${bg[0]}")") roles=("rx VM")
		;;
	esac
	sleep 0.5
	# The tap's counter and the time around the window: its rate there,
	# times the window, is the frames perf saw.
	c0=0 t0=$(date +%s.%N)
	[ "$scenario" = tap-tx ] && c0=$(tapstat rx_packets)
	[ "$scenario" = tap-rx ] && c0=$(tapstat tx_packets)
	plist=$(
		IFS=,
		echo "${pids[*]}"
	)
	pst=$out/net-profile-$scenario-$size-$vmm.txt
	# Each process's threads and what they are: QEMU names its vCPU
	# threads "CPU n/KVM"; berth creates its vCPU thread last (the main
	# thread waits, the device I/O threads come before the vCPUs), so it
	# has the highest TID. KVM's worker (kvm-nx-lpage-recovery) is left out.
	for i in "${!pids[@]}"; do
		p=${pids[i]} top=0
		for t in /proc/"$p"/task/*; do
			[ "${t##*/}" -gt "$top" ] && [ "$(cat "$t/comm")" = berth ] && top=${t##*/}
		done
		for t in /proc/"$p"/task/*; do
			c=$(cat "$t/comm" 2>/dev/null) k=other
			case $c in kvm-*) continue ;; "CPU "*/KVM) k=vcpu ;; esac
			[ "$vmm" = berth ] && [ "${roles[i]}" != switch ] && [ "${t##*/}" = "$top" ] && k=vcpu
			echo "${t##*/}:$k"
		done >"$work/tasks.$p"
	done
	perf stat -x, --per-thread -p "$plist" -e "$ev" -o "$pst" -- sleep "$window" 2>/dev/null
	c1=0
	[ "$scenario" = tap-tx ] && c1=$(tapstat rx_packets)
	[ "$scenario" = tap-rx ] && c1=$(tapstat tx_packets)
	t1=$(date +%s.%N)
	tap_fps=$(awk -v c="$((c1 - c0))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", c / (b - a) }')
	for p in "${bg[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "$swpid" ]; then kill "$swpid" 2>/dev/null || true; wait "$swpid" 2>/dev/null || true; swpid=; fi
	# Frames through each process.
	case $scenario in
	g2g)
		t=$(result tx tx) r=$(result rx rx)
		sent=$(($(get "$t" pps) * window)) recv=$(($(get "$r" pps) * window))
		;;
	tap-tx) sent=$((tap_fps * window)) recv=$sent ;;
	tap-rx) recv=$((tap_fps * window)) sent=$recv ;;
	esac
	if [ -z "$sent" ] || [ -z "$recv" ] || [ "$sent" = 0 ] || [ "$recv" = 0 ]; then
		echo "error: $vmm: no traffic measured; logs:" >&2
		tail -n 5 "$work"/*.log >&2
		exit 1
	fi
	for i in "${!pids[@]}"; do
		role=${roles[i]} pid=${pids[i]}
		f=$([ "$role" = "rx VM" ] && echo "$recv" || echo "$sent")
		awk -F, -v role="$role" -v vmm="$vmm" -v f="$f" -v w="$window" \
			-v tids="$(cat "$work/tasks.$pid")" '
			BEGIN { n = split(tids, L, " "); for (i = 1; i <= n; i++) { split(L[i], x, ":"); kind_of[x[1]] = x[2] } }
			!/^#/ && NF > 3 {
				n = split($1, a, "-"); tid = a[n]
				if (!(tid in kind_of)) next
				v = ($2 ~ /^[0-9.]+$/) ? $2 : 0
				kind = kind_of[tid]
				S[kind, $4] += v; has[kind] = 1
			}
			END {
				for (k in has) {
					send = S[k, "syscalls:sys_enter_sendmsg"] + S[k, "syscalls:sys_enter_sendto"] + S[k, "syscalls:sys_enter_sendmmsg"]
					recv = S[k, "syscalls:sys_enter_recvmsg"] + S[k, "syscalls:sys_enter_recvfrom"] + S[k, "syscalls:sys_enter_recvmmsg"]
					rd = S[k, "syscalls:sys_enter_read"] + S[k, "syscalls:sys_enter_readv"]
					wr = S[k, "syscalls:sys_enter_write"] + S[k, "syscalls:sys_enter_writev"]
					ep = S[k, "syscalls:sys_enter_epoll_wait"] + S[k, "syscalls:sys_enter_epoll_pwait"] + S[k, "syscalls:sys_enter_ppoll"] + S[k, "syscalls:sys_enter_poll"]
					printf "| %s | %s | %s | %.0f | %.0f%% | %.2f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.4f | %.4f |\n",
						vmm, role, k == "vcpu" ? "vCPU" : "other", f / w,
						S[k, "task-clock"] / 10 / w, S[k, "task-clock"] * 1000 / f,
						send / f, recv / f, rd / f, wr / f, ep / f,
						S[k, "syscalls:sys_enter_ioctl"] / f, S[k, "context-switches"] / f,
						S[k, "kvm:kvm_mmio"] / f, S[k, "kvm:kvm_msi_set_irq"] / f
				}
			}' "$pst" | sort -t'|' -k4,4 -k3,3r
	done
done
