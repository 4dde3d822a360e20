#!/usr/bin/env bash
# Block I/O benchmark: the blkbench guest (guest/blkbench.c) on berth and on
# QEMU, same guest ELF, same disk image, same guest options, interleaved
# round by round. See bench/README.md.
#
#   bench/blk/run.sh [--runs N] [--build DIR] [--secs S] [--size MiB]
#                    [--modes LIST] [--opts STR] [--image PATH] [--retries N]
#
# Markdown tables on stdout; every sample in DIR/bench/blk.csv.
# awk programs are passed in single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

all_modes=direct-poll,direct-irq,buffered-poll,buffered-irq

usage() {
	echo "usage: $0 [--runs N] [--build DIR] [--secs S] [--size MiB] [--modes LIST] [--opts STR] [--image PATH] [--retries N]"
	echo "  --runs N      interleaved rounds (default 5); each runs every mode on both VMMs"
	echo "  --build DIR   berth build directory (default build, in the repo root)"
	echo "  --secs S      seconds per test inside the guest (default 3)"
	echo "  --size MiB    disk image size (default 256)"
	echo "  --modes LIST  comma-separated, from $all_modes (default: all)"
	echo "                direct:   berth --disk IMG,direct  vs QEMU cache=none      (O_DIRECT)"
	echo "                buffered: berth --disk IMG         vs QEMU cache=writeback (page cache, warmed)"
	echo "                poll: guest polls the used ring (irq=0); irq: MSI-X interrupts (irq=1)"
	echo "  --opts STR    guest options for both VMMs (default 'event_idx=1 indirect=1')"
	echo "  --image PATH  create the image there (overwritten, kept); default DIR/bench/blk-XXXXXX/disk.img,"
	echo "                removed at exit"
	echo "  --retries N   a failed run (wrong exit status, missing results) is logged and run again,"
	echo "                up to N times in all (default 0: the first failure aborts the benchmark)"
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=5
build=$repo/build
secs=3
size=256
modes=$all_modes
opts="event_idx=1 indirect=1"
image=
retries=0
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=${2:?--runs needs a number}; shift 2 ;;
	--build) build=${2:?--build needs a directory}; shift 2 ;;
	--secs) secs=${2:?--secs needs a number}; shift 2 ;;
	--size) size=${2:?--size needs a number of MiB}; shift 2 ;;
	--modes) modes=${2:?--modes needs a list}; shift 2 ;;
	--opts) opts=${2?--opts needs a string}; shift 2 ;;
	--image) image=${2:?--image needs a path}; shift 2 ;;
	--retries) retries=${2:?--retries needs a number}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
for v in runs secs size; do
	case ${!v} in '' | *[!0-9]* | 0) echo "--$v: '${!v}' is not a positive number" >&2; exit 2 ;; esac
done
case $retries in '' | *[!0-9]*) echo "--retries: '$retries' is not a number" >&2; exit 2 ;; esac
IFS=, read -r -a mode_list <<<"$modes"
for m in "${mode_list[@]}"; do
	case ,$all_modes, in *",$m,"*) ;; *) echo "--modes: unknown mode '$m' (known: $all_modes)" >&2; exit 2 ;; esac
done

if [ ! -e /dev/kvm ]; then
	echo "blk benchmark: /dev/kvm is missing, nothing to measure (skipped)"
	exit 0
fi
for f in "$build/berth" "$build/guest/blkbench.elf"; do
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

mkdir -p "$build/bench"
build=$(cd "$build" && pwd)
out=$build/bench
work=$(mktemp -d "$out/blk-XXXXXX")
trap 'rm -rf "$work"' EXIT
# Private copies: a concurrent `make` must not swap the binaries between
# rounds (the work tree is shared).
cp "$build/berth" "$work/berth"
cp "$build/guest/blkbench.elf" "$work/blkbench.elf"
berth=$work/berth
guest=$work/blkbench.elf
image=${image:-$work/disk.img}

# The image: random data written once (every block allocated, nothing
# reads as a hole), then synced so no writeback runs during the rounds.
echo "creating a $size MiB image at $image ($(df --output=source,fstype "$(dirname "$image")" | tail -1 | tr -s ' '))" >&2
dd if=/dev/urandom of="$image" bs=1M count="$size" conv=fsync status=none

# Page cache of the image only (posix_fadvise DONTNEED through dd), not
# the whole machine's: the host is shared, and drop_caches would slow
# everyone else's builds. Dirty pages are written back first.
evict() { sync "$image"; dd if="$image" iflag=nocache count=0 status=none; }
warm() { sync "$image"; cat "$image" >/dev/null; }
resident_pct() {
	fincore -b -n -o RES "$image" 2>/dev/null |
		awk -v s=$((size << 20)) '{ printf "%.0f", 100 * $1 / s; ok = 1 } END { if (!ok) printf "?" }'
}

# mode -> berth disk suffix, QEMU cache mode, guest irq option
mode_direct() { case $1 in direct-*) echo ,direct ;; *) echo ;; esac; }
mode_cache() { case $1 in direct-*) echo none ;; *) echo writeback ;; esac; }
mode_irq() { case $1 in *-irq) echo 1 ;; *) echo 0 ;; esac; }

# vmm_cmd VMM MODE: the command line, as words in the global array cmd.
vmm_cmd() {
	local cl
	cl="secs=$secs $opts irq=$(mode_irq "$2")"
	if [ "$1" = berth ]; then
		cmd=("$berth" run --mem 256M --disk "$image$(mode_direct "$2")" --kernel "$guest"
			--cmdline "$cl" --serial stdio)
	else
		cmd=(qemu-system-x86_64 -M q35 -enable-kvm -cpu qemu64 -m 256 -nographic -no-reboot
			-nic none -kernel "$guest" -device "isa-debug-exit,iobase=0xf4" -append "$cl"
			-drive "file=$image,if=none,id=d0,format=raw,aio=io_uring,cache=$(mode_cache "$2")"
			-device "virtio-blk-pci,drive=d0,disable-legacy=on")
	fi
}

tests=(randread-4k-qd1 randread-4k-qd32 seqread-1m seqwrite-1m)
csv=$out/blk.csv
# Columns: 1 round, 2 mode, 3 vmm, 4 order (1: ran first in its pair),
# 5 cached_pct (image resident in the page cache before the run),
# 6 other_cpus (average CPUs busy with anything but this VMM during the
# run), 7 steal_cpus (average CPUs taken by the hypervisor under this host
# VM: /proc/stat steal), 8 vmm_cpu_s (user+sys of the VMM process, boot
# included), 9 test, 10 bs, 11 qd, 12 ops, 13 bytes, 14 usec, 15 iops,
# 16 mbps, 17-18 kicks and notifications (whole run, all four tests).
echo "round,mode,vmm,order,cached_pct,other_cpus,steal_cpus,vmm_cpu_s,test,bs,qd,ops,bytes,usec,iops,mbps,run_kicks,run_notifications" >"$csv"
faillog=$out/blk-failures.log
: >"$faillog"
declare -A fails
failed=0

# Clock ticks: CPUs busy in user+system (all processes), and this shell's
# waited-for children (the VMM, through timeout).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat; }
steal_ticks() { awk '/^cpu / { print $9 }' /proc/stat; }
child_ticks() { awk '{ print $16 + $17 }' /proc/$$/stat; }
now() { date +%s.%N; }

# run_one ROUND MODE VMM ORDER: one boot of blkbench; appends four rows.
# A failed run aborts, or with --retries is logged and run again.
run_one() {
	local round=$1 mode=$2 vmm=$3 order=$4 log=$work/out status pct n rows kn
	local b0 c0 w0 s0 b1 c1 w1 s1 other steal cpu hz wall
	while :; do
		case $mode in direct-*) evict ;; *) warm ;; esac
		pct=$(resident_pct)
		vmm_cmd "$vmm" "$mode"
		status=0
		b0=$(busy_ticks) c0=$(child_ticks) s0=$(steal_ticks) w0=$(now)
		# Generous: QEMU's SeaBIOS takes 3-4 s in emulated ring 0.
		timeout -k 5 $((4 * secs + 120)) "${cmd[@]}" </dev/null >"$log" 2>&1 || status=$?
		b1=$(busy_ticks) c1=$(child_ticks) s1=$(steal_ticks) w1=$(now)
		n=$(grep -ac '^blkbench: test=' "$log" || true)
		if [ "$status" = 1 ] && [ "$n" = 4 ] && grep -aq '^PASS' "$log"; then
			break
		fi
		echo "error: $vmm ($mode, round $round) exited with status $status$(
			[ "$status" = 124 ] && echo " (timed out)") and $n of 4 results;" \
			"expected status 1 (blkbench PASS)" >&2
		echo "  command: ${cmd[*]}" >&2
		sed 's/^/  | /' "$log" | tr -d '\033' >&2
		{
			echo "== round $round, $mode, $vmm: status $status"
			echo "command: ${cmd[*]}"
			tr -d '\033' <"$log"
		} >>"$faillog"
		fails[$mode,$vmm]=$((${fails[$mode,$vmm]:-0} + 1))
		failed=$((failed + 1))
		if [ "$failed" -gt "$retries" ]; then
			[ "$retries" -gt 0 ] && echo "  $failed failed runs: more than --retries $retries" >&2
			echo "  (every failed run's output: $faillog)" >&2
			exit 1
		fi
		echo "  failed run $failed of at most $retries: logged in $faillog, running it again" >&2
	done
	hz=$(getconf CLK_TCK)
	wall=$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')
	other=$(awk -v b="$((b1 - b0))" -v c="$((c1 - c0))" -v w="$wall" -v hz="$hz" \
		'BEGIN { o = (b - c) / hz / w; printf "%.2f", o < 0 ? 0 : o }')
	steal=$(awk -v s="$((s1 - s0))" -v w="$wall" -v hz="$hz" 'BEGIN { printf "%.2f", s / hz / w }')
	cpu=$(awk -v c="$((c1 - c0))" -v hz="$hz" 'BEGIN { printf "%.2f", c / hz }')
	kn=$(sed -n 's/^blkbench: \([0-9]*\) kicks, \([0-9]*\) notifications.*/\1,\2/p' "$log")
	rows=$(sed -n 's/^blkbench: test=\([^ ]*\) bs=\([0-9]*\) qd=\([0-9]*\) ops=\([0-9]*\) bytes=\([0-9]*\) usec=\([0-9]*\) iops=\([0-9]*\) mbps=\([0-9.]*\).*/\1,\2,\3,\4,\5,\6,\7,\8/p' "$log")
	while IFS= read -r r; do
		echo "$round,$mode,$vmm,$order,$pct,$other,$steal,$cpu,$r,${kn:-,}" >>"$csv"
	done <<<"$rows"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
for ((round = 1; round <= runs; round++)); do
	for mode in "${mode_list[@]}"; do
		# Alternate who goes first, so neither always follows the other.
		if ((round % 2)); then order=(berth qemu); else order=(qemu berth); fi
		run_one "$round" "$mode" "${order[0]}" 1
		run_one "$round" "$mode" "${order[1]}" 2
	done
	echo "round $round of $runs done ($(($(date +%s) - t0)) s)" >&2
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# stats FORMAT: "median (min-max)" of the numbers on stdin.
stats() {
	sort -g | awk -v f="$1" '{ v[NR] = $1 }
		END { if (!NR) { printf "-"; exit }
		      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf f " (" f "-" f ")", m, v[1], v[NR] }'
}
# col MODE VMM TEST COL: column COL of those rows (VMM or TEST "" = any).
col() {
	awk -F, -v m="$1" -v v="$2" -v t="$3" -v c="$4" \
		'NR > 1 && $2 == m && (v == "" || $3 == v) && (t == "" || $9 == t) { print $c }' "$csv"
}
median() { col "$@" | stats %.6g | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# paired MODE TEST COL: berth / QEMU of the same round, one per round.
paired() {
	awk -F, -v m="$1" -v t="$2" -v c="$3" 'NR > 1 && $2 == m && $9 == t { x[$1, $3] = $c; r[$1] = 1 }
		END { for (i in r) if (x[i, "qemu"] > 0) print x[i, "berth"] / x[i, "qemu"] }' "$csv"
}
# span MODE VMM: min-max of cached_pct over the runs.
span() {
	col "$1" "$2" randread-4k-qd1 5 | sort -g | sed -n '1h; $H; ${x; s/\n/-/; s/^\([^-]*\)-\1$/\1/; p}'
}
describe() {
	case $1 in
	direct-poll) echo "O_DIRECT (berth \`--disk IMG,direct\`, QEMU \`cache=none\`), guest polls (\`irq=0\`)" ;;
	direct-irq) echo "O_DIRECT (berth \`--disk IMG,direct\`, QEMU \`cache=none\`), MSI-X interrupts (\`irq=1\`)" ;;
	buffered-poll) echo "host page cache, image warmed (berth \`--disk IMG\`, QEMU \`cache=writeback\`), guest polls (\`irq=0\`)" ;;
	buffered-irq) echo "host page cache, image warmed (berth \`--disk IMG\`, QEMU \`cache=writeback\`), MSI-X interrupts (\`irq=1\`)" ;;
	esac
}
kpn() { # notifications per kick over the whole runs
	awk -F, -v m="$1" -v v="$2" 'NR > 1 && $2 == m && $3 == v && $9 == "randread-4k-qd1" { k += $17; n += $18 }
		END { printf "%.2f", k ? n / k : 0 }' "$csv"
}

echo "## Block I/O: blkbench, berth against QEMU"
echo
echo "$runs interleaved rounds, $(date -u +%Y-%m-%d), $(uname -r)$(
	test -d /sys/module/kvm_pvm && echo ", /dev/kvm is PVM (software virtualization)"),"
echo "$(nproc) CPUs, load average ${load0%% *} at the start and ${load1%% *} at the end."
echo "Guest: guest/blkbench.elf, 256 MiB RAM, cmdline \`secs=$secs $opts irq=0|1\`;"
echo "$size MiB raw image of random data on $(df --output=fstype "$(dirname "$image")" | tail -1)."
echo "QEMU: $(qemu-system-x86_64 --version | head -1 | sed 's/^QEMU emulator version //'), -M q35, aio=io_uring."
echo "Each cell: median (min-max) over $runs runs. berth / QEMU: ratio of the medians, and"
echo "median (min-max) of the ratios within each round (the two VMMs of a round ran back"
echo "to back, so a busy period of the shared host hits both); above 1: berth is faster."
echo "Raw samples: ${csv#"$build/"}."
for mode in "${mode_list[@]}"; do
	echo
	echo "### $mode: $(describe "$mode")"
	echo
	echo "| test | unit | berth | QEMU | berth / QEMU (medians) | berth / QEMU (per round) |"
	echo "| --- | --- | --- | --- | --- | --- |"
	for t in "${tests[@]}"; do
		case $t in randread-*) c=15 unit=IOPS ;; *) c=16 unit=MB/s ;; esac
		echo "| $t | $unit | $(col "$mode" berth "$t" $c | stats %.0f) | $(col "$mode" qemu "$t" $c | stats %.0f) |" \
			"$(ratio "$(median "$mode" berth "$t" $c)" "$(median "$mode" qemu "$t" $c)") |" \
			"$(paired "$mode" "$t" $c | stats %.2f) |"
	done
	echo
	if [ -n "${fails[$mode,berth]:-}${fails[$mode,qemu]:-}" ]; then
		echo "**Failed runs, not in the table (each was run again):** berth ${fails[$mode,berth]:-0}," \
			"QEMU ${fails[$mode,qemu]:-0}; their output is in ${faillog#"$build/"}."
		echo
	fi
	echo "Image resident in the host page cache before each run: $(span "$mode" berth)% (berth runs)," \
		"$(span "$mode" qemu)% (QEMU runs). Other processes kept $(col "$mode" "" randread-4k-qd1 6 | stats %.2f)" \
		"CPUs busy during the runs; steal time took $(col "$mode" "" randread-4k-qd1 7 | stats %.2f) CPUs." \
		"VMM CPU seconds per run (user+sys, boot included):" \
		"berth $(col "$mode" berth randread-4k-qd1 8 | stats %.1f), QEMU $(col "$mode" qemu randread-4k-qd1 8 | stats %.1f)." \
		"Notifications per kick (guest counters, whole run): berth $(kpn "$mode" berth), QEMU $(kpn "$mode" qemu)."
done
