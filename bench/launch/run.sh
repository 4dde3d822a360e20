#!/usr/bin/env bash
# Launch benchmark: how long and how much memory it takes to start a tiny
# guest that exits at once, on berth, on QEMU -M microvm and on kvm_floor
# (the least any VMM can do). See bench/README.md.
#
#   bench/launch/run.sh [--runs N] [--build DIR] [--guest ELF]
#
# Markdown table on stdout; every sample in DIR/bench/launch.csv.
# awk field expressions ('$3') are passed in single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

usage() {
	echo "usage: $0 [--runs N] [--build DIR] [--guest ELF]"
	echo "  --runs N     timed rounds (default 20); each round runs every program once"
	echo "  --build DIR  berth build directory (default build, in the repo root)"
	echo "  --guest ELF  PVH guest to boot (default DIR/guest/exitcode.elf)"
}

here=$(cd "$(dirname "$0")" && pwd)
runs=20
build=$here/../../build
guest=
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=${2:?--runs needs a number}; shift 2 ;;
	--build) build=${2:?--build needs a directory}; shift 2 ;;
	--guest) guest=${2:?--guest needs a file}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case $runs in '' | *[!0-9]* | 0) echo "--runs: '$runs' is not a positive number" >&2; exit 2 ;; esac

if [ ! -e /dev/kvm ]; then
	echo "launch benchmark: /dev/kvm is missing, nothing to measure (skipped)"
	exit 0
fi

mkdir -p "$build/bench"
build=$(cd "$build" && pwd)
out=$build/bench
guest=${guest:-$build/guest/exitcode.elf}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Build the two helpers when missing or older than their source.
for prog in kvm_floor measure; do
	if [ ! -x "$out/$prog" ] || [ "$here/$prog.c" -nt "$out/$prog" ]; then
		gcc -O2 -Wall -Wextra -Werror -o "$out/$prog" "$here/$prog.c"
	fi
done

# Programs to compare: name, expected exit status, command.
names=(floor floor+irqchip) want=(0 0)
cmds=("$out/kvm_floor" "$out/kvm_floor --irqchip")
if [ ! -r "$guest" ]; then
	echo "note: guest $guest not found; berth and QEMU skipped (run make, or pass --guest)" >&2
elif [ ! -x "$build/berth" ]; then
	echo "note: $build/berth not built; berth skipped (run make)" >&2
else
	names+=(berth) want+=(1)
	cmds+=("$build/berth run -v --kernel $guest --serial none --mem 128M")
fi
if [ -r "$guest" ]; then
	if command -v qemu-system-x86_64 >/dev/null; then
		names+=(qemu) want+=(1)
		cmds+=("qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off -enable-kvm -cpu qemu64 -m 128 -nographic -no-reboot -kernel $guest -device isa-debug-exit,iobase=0xf4")
	else
		echo "note: qemu-system-x86_64 is not installed; QEMU skipped (apt-get install qemu-system-x86)" >&2
	fi
fi

# run_one ROUND INDEX: run program INDEX once, append a CSV row (round 0 is
# the untimed warm-up and is not recorded).
run_one() {
	local round=$1 i=$2 log=$work/out res wall cpu rss status resident=
	# Word splitting of the command string is intended: paths have no spaces.
	# shellcheck disable=SC2086
	res=$("$out/measure" -o "$log" ${cmds[i]})
	read -r wall cpu rss status <<<"$res"
	if [ "$status" != "${want[i]}" ]; then
		echo "error: ${names[i]} exited with status $status, expected ${want[i]}" >&2
		echo "  command: ${cmds[i]}" >&2
		sed 's/^/  | /' "$log" >&2
		exit 1
	fi
	if [ "${names[i]}" = berth ]; then
		resident=$(sed -n 's/^berth: guest RAM resident: \([0-9]*\) KiB$/\1/p' "$log")
	fi
	[ "$round" -gt 0 ] && echo "$round,${names[i]},$wall,$cpu,$rss,$status,$resident" >>"$csv"
	return 0
}

csv=$out/launch.csv
echo "round,program,wall_ms,cpu_ms,maxrss_kib,status,guest_resident_kib" >"$csv"
for ((round = 0; round <= runs; round++)); do
	for i in "${!names[@]}"; do
		run_one "$round" "$i"
	done
done

# Columns are picked with awk expressions over CSV fields: $3 wall_ms,
# $4 cpu_ms, $5 maxrss_kib, $7 guest_resident_kib.
# cell PROGRAM EXPR FORMAT: "median (min-max)" of EXPR over PROGRAM's rows.
cell() {
	awk -F, -v p="$1" "NR > 1 && \$2 == p { print $2 }" "$csv" | sort -g |
		awk -v f="$3" '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf f " (" f "-" f ")", m, v[1], v[NR] }'
}
median() { cell "$1" "$2" %.6g | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "## Launch: tiny PVH guest that exits at once"
echo
echo "$runs interleaved rounds after one warm-up round, $(date -u +%Y-%m-%d), $(uname -r)$(
	test -d /sys/module/kvm_pvm && echo ", /dev/kvm is PVM (software virtualization)")."
echo "Guest: ${guest#"$build/"}, 128 MiB RAM (kvm_floor: 3 instructions, 2 MiB;"
echo "floor+irqchip also creates the in-kernel irqchip and PIT berth needs, and pays"
echo "their teardown before exiting; berth leaves that to a detached reaper)."
echo "Each cell: median (min-max). Raw samples: ${csv#"$build/"}."
echo
echo "| program | wall ms | CPU ms (user+sys) | peak RSS KiB |"
echo "| --- | --- | --- | --- |"
for p in "${names[@]}"; do
	echo "| $p | $(cell "$p" '$3' %.1f) | $(cell "$p" '$4' %.1f) | $(cell "$p" '$5' %.0f) |"
done

if [[ " ${names[*]} " == *" berth "* ]]; then
	echo
	echo "| ratio (of medians) | wall | CPU | peak RSS |"
	echo "| --- | --- | --- | --- |"
	for p in "${names[@]}"; do
		[ "$p" = berth ] && continue
		echo "| berth / $p | $(ratio "$(median berth '$3')" "$(median "$p" '$3')") |" \
			"$(ratio "$(median berth '$4')" "$(median "$p" '$4')") |" \
			"$(ratio "$(median berth '$5')" "$(median "$p" '$5')") |"
	done
	echo
	if awk -F, '$2 == "berth" && $7 == "" { bad = 1 } END { exit bad }' "$csv"; then
		echo "berth overhead = peak RSS - guest RAM resident:" \
			"$(cell berth '$5 - $7' %.0f) KiB; guest RAM resident: $(cell berth '$7' %.0f) KiB."
	else
		echo "berth did not print 'guest RAM resident' (older build?):" \
			"its overhead is not separated from guest RAM; peak RSS above is the upper bound."
	fi
fi
