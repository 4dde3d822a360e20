#!/bin/bash
# Boot each test guest under QEMU (the reference VMM) and check its output
# and exit status, so the guests are known good before berth runs them.
#   tests/integration/qemu-guests.sh [BUILD_DIR]     (default: build)
# A guest writing v to port 0xf4 makes QEMU exit with status 2v + 1.
set -u

build=${1:-build}
gdir=$build/guest
checks=8 # keep in step with the check calls below
passed=0
failed=0

skip() {
	echo "skip - qemu guests: $1"
	echo "0 passed, 0 failed, $checks skipped"
	exit 0
}

command -v qemu-system-x86_64 >/dev/null ||
	skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
[ -e /dev/kvm ] || skip "/dev/kvm is missing"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "no access to /dev/kvm"

log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT

# boot ELF [QEMU_ARGS...]: sets $out (guest output, no CRs) and $status.
# $input, if set, is typed into COM1.
boot() {
	local elf=$gdir/$1
	shift
	timeout 60 qemu-system-x86_64 \
		-M microvm,x-option-roms=off,rtc=off -enable-kvm -cpu qemu64 \
		-m 128 -nographic -no-reboot -kernel "$elf" \
		-device isa-debug-exit,iobase=0xf4 "$@" \
		< <(printf '%s' "${input:-}") >"$log" 2>&1
	status=$?
	out=$(tr -d '\r' <"$log")
}

ok() {
	echo "ok - $1"
	passed=$((passed + 1))
}

not_ok() {
	echo "not ok - $1: $2"
	failed=$((failed + 1))
	# the guest's last lines say most about what went wrong
	printf '%s\n' "$out" | tail -n 5 | sed 's/^/#   /'
}

# check NAME WANT_STATUS [+REGEX|-REGEX]...: the status must match, each
# +REGEX must match a line of the output and no -REGEX may.
check() {
	local name=$1 want=$2 p
	shift 2

	if [ "$status" != "$want" ]; then
		not_ok "$name" "exit status $status, want $want"
		return
	fi
	for p in "$@"; do
		if [ "${p:0:1}" = + ] && ! grep -Eq -- "${p:1}" <<<"$out"; then
			not_ok "$name" "output lacks /${p:1}/"
			return
		elif [ "${p:0:1}" = - ] && grep -Eq -- "${p:1}" <<<"$out"; then
			not_ok "$name" "output has /${p:1}/"
			return
		fi
	done
	ok "$name"
}

for g in hello exitcode smp fault demo burn steal; do
	if [ ! -f "$gdir/$g.elf" ]; then
		echo "not ok - build: $gdir/$g.elf missing (make guests)"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

boot hello.elf -append "greeting=hi"
check hello 1 '+^Hello from a berth test guest$' '+^cmdline: "greeting=hi"$' \
	'+^PASS$' '-^FAIL'

boot exitcode.elf -append "code=5"
check "exitcode code=5" 11

boot exitcode.elf
check "exitcode default" 1

boot smp.elf -smp 4 -append "cpus=4"
check "smp 4 cpus" 1 '+^cpu 0 apic [0-9]+ online$' \
	'+^cpu 1 apic [0-9]+ online$' '+^cpu 2 apic [0-9]+ online$' \
	'+^cpu 3 apic [0-9]+ online$' '+^smp: 4 cpus online$' '+^PASS$'

# 0x7e is the exception exit code (EXIT_EXCEPTION in guest/layout.h).
boot fault.elf -append "mode=pf"
check "fault mode=pf" $((2 * 0x7e + 1)) \
	'+^guest: exception 14 error=0x[0-9a-f]+ rip=0x[0-9a-f]+ cr2=0x4000000000'

# QEMU -no-reboot turns the triple fault into a clean exit, status 0.
boot fault.elf -append "mode=triple"
check "fault mode=triple" 0 '+^fault: triple fault' '-^PASS' \
	'-^guest: exception'

# QEMU reads 0 where berth reads all ones: check only that the read returns.
boot fault.elf -append "mode=unbacked-read"
check "fault mode=unbacked-read" 7 '+^fault: read 0x[0-9a-f]+$'

# A key on COM1 ends the demo at once; microvm has no i8042, so the reset
# falls back to exit_code(0).
input=x boot demo.elf -append "demo=1"
check "demo" 1 '+Hello from inside a berth virtual machine' \
	'+^  cmdline: +"demo=1"$' '+^  tsc: +[0-9]+\.[0-9]{3} MHz' \
	'+^Press any key to power off' '+^Key pressed: powering off'

# burn on every vCPU; microvm has no i8042, which burn notices and ignores.
boot burn.elf -smp 2 -append "secs=1"
check "burn 2 cpus" 1 '+^burn: 2 cpus burning' '+^burn: t=1s loops=[0-9]+$' \
	'+^PASS$'

boot steal.elf -append "secs=2"
check "steal" 1 '+^steal: t=2s steal_ns=[0-9]+ version=[1-9]' '+^PASS$'

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
