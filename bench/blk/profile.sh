#!/usr/bin/env bash
# Where a blkbench request's time goes, on berth and on QEMU: runs each test
# alone under `perf stat` (KVM tracepoints, syscalls, CPU time) and divides by
# the requests done, after subtracting a baseline run of the same command
# with count=1 (boot, one request, exit). See bench/README.md.
#
#   bench/blk/profile.sh [--build DIR] [--secs S] [--size MiB] [--mode MODE]
#                        [--tests LIST] [--opts STR]
#
# MODE as in run.sh (default direct-irq). Markdown table on stdout; the perf
# output in DIR/bench/blk-profile.csv. Needs perf and root (tracepoints).
# shellcheck disable=SC2016
set -euo pipefail

usage() {
	echo "usage: $0 [--build DIR] [--secs S] [--size MiB] [--mode MODE] [--tests LIST] [--opts STR]"
}

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../build
secs=2
size=256
mode="direct-irq"
tests=randread-4k-qd1,randread-4k-qd32,seqread-1m,seqwrite-1m
opts="event_idx=1 indirect=1"
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift 2 ;;
	--secs) secs=${2:?}; shift 2 ;;
	--size) size=${2:?}; shift 2 ;;
	--mode) mode=${2:?}; shift 2 ;;
	--tests) tests=${2:?}; shift 2 ;;
	--opts) opts=${2?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case $mode in direct-poll | direct-irq | buffered-poll | buffered-irq) ;;
*) echo "--mode: unknown mode '$mode'" >&2; exit 2 ;; esac
if [ ! -e /dev/kvm ] || ! command -v perf >/dev/null || ! command -v qemu-system-x86_64 >/dev/null; then
	echo "blk profile: needs /dev/kvm, perf and qemu-system-x86_64 (skipped)"
	exit 0
fi

mkdir -p "$build/bench"
build=$(cd "$build" && pwd)
work=$(mktemp -d "$build/bench/blk-XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$build/berth" "$work/berth"
cp "$build/guest/blkbench.elf" "$work/blkbench.elf"
image=$work/disk.img
dd if=/dev/urandom of="$image" bs=1M count="$size" conv=fsync status=none

direct='' cache=writeback irq=0
case $mode in direct-*) direct=,direct cache=none ;; esac
case $mode in *-irq) irq=1 ;; esac

# What each counter is (per request, after the baseline is subtracted).
events=(
	kvm:kvm_mmio              # guest MMIO accesses (notifications included)
	kvm:kvm_userspace_exit    # exits from KVM_RUN to the VMM
	kvm:kvm_msi_set_irq       # MSIs injected (irqfd included)
	kvm:kvm_vcpu_wakeup       # vCPU woken from halt
	syscalls:sys_enter_io_uring_enter
	syscalls:sys_enter_epoll_wait
	syscalls:sys_enter_ppoll
	syscalls:sys_enter_read
	syscalls:sys_enter_write
	context-switches
	task-clock
)
ev=$(
	IFS=,
	echo "${events[*]}"
)

# The pid of the VMM running our guest (not perf, its parent).
vmm_pid() {
	local p
	for p in $(pgrep -f -- "$work/blkbench.elf"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = perf ] || { echo "$p"; return; }
	done
}

# prof VMM TEST CMDLINE: perf stat one run; prints "ops iops kicks
# notifications boot_cpu_ticks v1 v2 ...". boot_cpu_ticks is the VMM's CPU
# time when the guest prints its first line, just before the test starts
# (sampling again at the result line would race with the VMM's exit).
prof() {
	local vmm=$1 t=$2 cl="$3 $opts irq=$irq tests=$2" log=$work/log st=$work/stat status ops attempt
	local ticks=$work/ticks tk
	local -a cmd
	if [ "$vmm" = berth ]; then
		cmd=("$work/berth" run --mem 256M --disk "$image$direct" --kernel "$work/blkbench.elf"
			--cmdline "$cl" --serial stdio)
	else
		cmd=(qemu-system-x86_64 -M q35 -enable-kvm -cpu qemu64 -m 256 -nographic -no-reboot
			-nic none -kernel "$work/blkbench.elf" -device "isa-debug-exit,iobase=0xf4" -append "$cl"
			-drive "file=$image,if=none,id=d0,format=raw,aio=io_uring,cache=$cache"
			-device "virtio-blk-pci,drive=d0,disable-legacy=on")
	fi
	for attempt in 1 2 3 4; do
		if [ "$cache" = none ]; then
			sync "$image"
			dd if="$image" iflag=nocache count=0 status=none
		else
			cat "$image" >/dev/null
		fi
		: >"$log"
		: >"$ticks"
		# The guest's output is read line by line, so the VMM's CPU time
		# can be sampled when the test starts.
		{
			perf stat -x, -o "$st" -e "$ev" -- "${cmd[@]}" </dev/null 2>&1
			echo "profile-status $?"
		} | {
			vpid='' f=()
			while IFS= read -r line; do
				# The pid is looked up on an early line; at the test's
				# start only builtins run, so the sample is not late.
				[ -n "$vpid" ] || vpid=$(vmm_pid)
				case $line in *"blkbench: tsc"*)
					read -r -a f <"/proc/$vpid/stat" &&
						echo $((f[13] + f[14])) >"$ticks" ;;
				esac
				printf '%s\n' "$line" >>"$log"
			done
		}
		status=$(sed -n 's/^profile-status //p' "$log")
		[ "$status" = 1 ] && break
		echo "error: $vmm exited with status $status (attempt $attempt of 4); command: ${cmd[*]}" >&2
		sed 's/^/  | /' "$log" | tr -d '\033' >&2
		[ "$attempt" = 4 ] && exit 1
	done
	ops=$(sed -n 's/^blkbench: test=.* ops=\([0-9]*\) .*/\1/p' "$log")
	kn=$(sed -n 's/^blkbench: \([0-9]*\) kicks, \([0-9]*\) notifications.*/\1 \2/p' "$log")
	iops=$(sed -n 's/^blkbench: test=.* iops=\([0-9]*\) .*/\1/p' "$log")
	tk=$(cat "$ticks" 2>/dev/null || echo 0)
	echo "$ops $iops $kn $tk $(awk -F, '!/^#/ && NF > 2 { printf "%s ", ($1 ~ /^[0-9.]+$/ ? $1 : 0) }' "$st")"
}

csv=$build/bench/blk-profile.csv
echo "mode,vmm,test,kind,ops,iops,kicks,notifications,boot_cpu_ticks,$ev" >"$csv"
echo "## blkbench profile: $mode (berth \`--disk IMG$direct\`, QEMU \`cache=$cache\`, irq=$irq), $(date -u +%Y-%m-%d)"
echo
echo "Per request, after subtracting a count=1 run of the same command (boot, one request,"
echo "exit); $secs s per test. kicks and notifies: the guest's counters. host CPU: CPU time of the"
echo "VMM process (all threads) after the guest's first line, minus the same for the count=1 run."
echo
echo "| test | VMM | IOPS | kicks | notifies | MMIO | VMM exits | MSIs | wakeups | io_uring_enter | epoll_wait+ppoll | read+write | ctx switches | host CPU µs |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
IFS=, read -r -a tlist <<<"$tests"
for t in "${tlist[@]}"; do
	for vmm in berth qemu; do
		full=$(prof "$vmm" "$t" "secs=$secs")
		base=$(prof "$vmm" "$t" "count=1")
		echo "$mode,$vmm,$t,full,${full// /,}" | sed 's/,$//' >>"$csv"
		echo "$mode,$vmm,$t,base,${base// /,}" | sed 's/,$//' >>"$csv"
		# Fields: 1 ops, 2 iops, 3 kicks, 4 notifications, 5 boot CPU ticks,
		# then the events: 6 mmio, 7 userspace exits, 8 msi, 9 wakeups,
		# 10 io_uring_enter, 11 epoll_wait, 12 ppoll, 13 read, 14 write,
		# 15 context switches, 16 task-clock (ms).
		awk -v t="$t" -v v="$vmm" -v f="$full" -v b="$base" -v hz="$(getconf CLK_TCK)" 'BEGIN {
			nf = split(f, F, " "); split(b, B, " ")
			ops = F[1] - B[1]
			for (i = 6; i <= nf; i++) D[i] = (F[i] - B[i]) / ops
			printf "| %s | %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f |\n",
				t, v, F[2], F[3] / F[1], F[4] / F[1], D[6], D[7], D[8], D[9], D[10],
				D[11] + D[12], D[13] + D[14], D[15],
				((F[16] - F[5] * 1000 / hz) - (B[16] - B[5] * 1000 / hz)) * 1000 / ops
		}'
	done
done
