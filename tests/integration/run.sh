#!/usr/bin/env bash
# Boot real guests on berth and check their output and exit status.
#   tests/integration/run.sh [BUILD_DIR]
# Prints "ok - NAME" or "not ok - NAME: why" per check and a closing
# "N passed, M failed, K skipped" line; exits non-zero if anything failed.
set -u
build=${1:-build}
berth=$build/berth
guests=$build/guest
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1: $2"; failed=$((failed + 1)); }
skip() { echo "skip - $1: $2"; skipped=$((skipped + 1)); }

# expect NAME STATUS PATTERN [berth run args...]: run with a timeout and
# stdin from /dev/null; PATTERN (grep -E) must match stdout+stderr ("" = any).
expect() {
	local name=$1 want=$2 pattern=$3 rc
	shift 3
	timeout -k 5 60 "$berth" run "$@" </dev/null >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		not_ok "$name" "exit status $rc, expected $want; output: $(tail -c 600 "$tmp/out" | tr '\n' '|')"
	elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$tmp/out"; then
		not_ok "$name" "output lacks /$pattern/: $(tail -c 600 "$tmp/out" | tr '\n' '|')"
	else
		ok "$name"
	fi
}

# Checks that need no /dev/kvm: bad options and images stop before KVM.
bad_input_checks() {
	expect "bad --cpus value names the option" 2 "--cpus: 'zero'" --cpus zero
	expect "bad --mem value names the option" 2 "--mem: '1X'" --mem 1X
	expect "unknown option" 2 "unrecognized option" --frob
	expect "bad --serial value" 2 "--serial: 'tcp:1'" --serial tcp:1
	"$berth" frobnicate >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q "unknown command 'frobnicate'" "$tmp/out"; then
		ok "unknown command"
	else
		not_ok "unknown command" "status $rc"
	fi
}

if [ ! -x "$berth" ]; then
	echo "not ok - berth binary: $berth is missing (run make first)"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip "all VM boots" "no usable /dev/kvm on this machine (is KVM loaded and are you in group kvm?)"
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 0
fi

# --- the test-guest kit ---------------------------------------------------
expect "hello guest passes" 1 "^PASS" --kernel "$guests/hello.elf" --cmdline "greeting=hi"
expect "hello guest sees the command line" 1 "greeting=hi" --kernel "$guests/hello.elf" --cmdline "greeting=hi"
expect "exit code 5 gives status 11" 11 "" --kernel "$guests/exitcode.elf" --cmdline "code=5"
expect "exit code 0 gives status 1" 1 "" --kernel "$guests/exitcode.elf"
expect "exit code 127 gives status 255" 255 "" --kernel "$guests/exitcode.elf" --cmdline "code=127"
expect "smp: 1 vCPU" 1 "smp: 1 cpus online" --kernel "$guests/smp.elf" --cmdline "cpus=1"
expect "smp: 2 vCPUs" 1 "smp: 2 cpus online" --cpus 2 --kernel "$guests/smp.elf" --cmdline "cpus=2"
timeout -k 5 60 "$berth" run --cpus 4 --kernel "$guests/smp.elf" --cmdline "cpus=4" </dev/null >"$tmp/out" 2>&1
ids=$(sed -n 's/^cpu [0-9]* apic \([0-9]*\) online.*/\1/p' "$tmp/out" | sort -u | tr '\n' ' ')
[ "$ids" = "0 1 2 3 " ] && ok "smp: 4 vCPUs report distinct APIC IDs 0-3" ||
	not_ok "smp: APIC IDs" "got '$ids'"
expect "smp: 4 vCPUs all online" 1 "smp: 4 cpus online" --cpus 4 --kernel "$guests/smp.elf" --cmdline "cpus=4"
expect "triple fault is a guest crash (status 4)" 4 "triple fault" --kernel "$guests/fault.elf" --cmdline "mode=triple"
expect "page fault reported by the guest" 253 "exception 14" --kernel "$guests/fault.elf" --cmdline "mode=pf"
expect "unbacked read returns all-ones" 7 "ffffffff" --kernel "$guests/fault.elf" --cmdline "mode=unbacked-read"
expect "executing unbacked memory is a guest crash (status 4)" 4 "guest failure" --kernel "$guests/fault.elf" --cmdline "mode=unbacked-exec"
timeout -k 5 60 "$berth" run --mem 3584M --kernel "$guests/demo.elf" <<<"x" >"$tmp/out" 2>&1
if grep -q "0000000100000000-000000011fffffff RAM" "$tmp/out"; then
	ok "RAM beyond 3 GiB appears above 4 GiB in the guest's memory map"
else
	not_ok "RAM above 4 GiB" "$(grep -A8 'memory map' "$tmp/out" | tr '\n' '|')"
fi

# --- the default guest and the console -------------------------------------
timeout -k 5 60 "$berth" run <<<"x" >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q "Press any key" "$tmp/out"; then
	ok "berth run with no arguments boots the demo guest, a key powers it off"
else
	not_ok "demo guest" "status $rc: $(tail -c 400 "$tmp/out" | tr '\n' '|')"
fi
timeout -k 5 60 "$berth" run --kernel "$guests/hello.elf" --serial "file:$tmp/serial.log" </dev/null >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "^PASS" "$tmp/serial.log" && ! grep -q PASS "$tmp/out"; then
	ok "--serial file:PATH captures COM1"
else
	not_ok "--serial file:PATH" "status $rc"
fi
# A reader that goes away must not kill the VM (SIGPIPE is ignored).
timeout -k 5 60 "$berth" run --kernel "$guests/hello.elf" </dev/null 2>/dev/null | head -c 1 >/dev/null
rc=${PIPESTATUS[0]}
[ "$rc" -eq 1 ] && ok "a closed stdout does not kill the VM" || not_ok "closed stdout" "status $rc"
# A signal stops the VM: the demo guest waits for a key that never comes.
mkfifo "$tmp/fifo"
(sleep 30 >"$tmp/fifo") &
holder=$!
"$berth" run --rng <"$tmp/fifo" >"$tmp/out" 2>&1 &
vm=$!
for _ in $(seq 50); do grep -q "Press any key" "$tmp/out" && break; sleep 0.1; done
kill -TERM "$vm"
wait "$vm"
rc=$?
kill "$holder" 2>/dev/null
[ "$rc" -eq 8 ] && ok "SIGTERM stops the VM (with a virtio I/O thread) with status 8" || not_ok "SIGTERM" "status $rc"

# --- a PVH guest written outside the kit ------------------------------------
if gcc -m32 -c "$here/external/pvh32.S" -o "$tmp/pvh32.o" 2>"$tmp/err" &&
	ld -m elf_i386 --no-warn-rwx-segments -T "$here/external/pvh32.ld" "$tmp/pvh32.o" -o "$tmp/pvh32.elf" 2>>"$tmp/err"; then
	expect "external ELF32 PVH guest" 85 "cmdline: from outside" --kernel "$tmp/pvh32.elf" --cmdline "from outside"
	sed 's/0x200000/0xe0000/' "$here/external/pvh32.ld" >"$tmp/low.ld"
	ld -m elf_i386 --no-warn-rwx-segments -T "$tmp/low.ld" "$tmp/pvh32.o" -o "$tmp/low.elf"
	expect "a PVH image over the ACPI tables is rejected" 2 "overlaps berth's MP and ACPI tables" --kernel "$tmp/low.elf"
else
	not_ok "external ELF32 PVH guest" "could not assemble it: $(cat "$tmp/err")"
fi

# An ACPI OS powers off through the FADT's sleep control register.
if gcc -m32 -c "$here/external/poweroff.S" -o "$tmp/off.o" 2>"$tmp/err" &&
	ld -m elf_i386 --no-warn-rwx-segments -T "$here/external/pvh32.ld" "$tmp/off.o" -o "$tmp/off.elf" 2>>"$tmp/err"; then
	expect "ACPI power-off (S5 through the FADT) ends the VM with status 0" 0 "VM stopped: guest powered off" -v --kernel "$tmp/off.elf"
else
	not_ok "ACPI power-off guest" "could not assemble it: $(cat "$tmp/err")"
fi

# A graceful stop: the control socket's "shutdown" presses Ctrl-Alt-Del,
# which the burn guest reads from the i8042 and answers with ACPI power-off.
if command -v python3 >/dev/null; then
	"$berth" run -v --kernel "$guests/burn.elf" --cmdline secs=0 \
		--control "$tmp/ctl.sock" </dev/null >"$tmp/cad.out" 2>&1 &
	vm=$!
	for _ in $(seq 100); do
		grep -q "cpus burning" "$tmp/cad.out" && [ -S "$tmp/ctl.sock" ] && break
		sleep 0.1
	done
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"{\"cmd\":\"shutdown\"}\n")
print(s.recv(4096).decode().strip())' "$tmp/ctl.sock" >>"$tmp/cad.out" 2>&1
	for _ in $(seq 100); do kill -0 "$vm" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$vm" 2>/dev/null
	wait "$vm"
	rc=$?
	if [ "$rc" = 0 ] && grep -q "^burn: ctrl-alt-del, powering off" "$tmp/cad.out" &&
		grep -q "VM stopped: guest powered off" "$tmp/cad.out"; then
		ok "control shutdown: burn sees Ctrl-Alt-Del and powers off (status 0)"
	else
		not_ok "control shutdown of burn" "status $rc: $(tail -c 600 "$tmp/cad.out" | tr '\n' '|')"
	fi
else
	skip "control shutdown of burn" "python3 is not installed"
fi

# A console nobody reads must not make the VM unstoppable.
if gcc -m32 -c "$here/external/spam.S" -o "$tmp/spam.o" 2>"$tmp/err" &&
	ld -m elf_i386 --no-warn-rwx-segments -T "$here/external/pvh32.ld" "$tmp/spam.o" -o "$tmp/spam.elf" 2>>"$tmp/err"; then
	"$berth" run --kernel "$tmp/spam.elf" </dev/null 2>"$tmp/err" > >(sleep 30) &
	vm=$!
	sleep 1
	kill -TERM "$vm"
	for _ in $(seq 50); do kill -0 "$vm" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$vm" 2>/dev/null; then
		kill -KILL "$vm"
		not_ok "SIGTERM stops a VM whose console is blocked" "still running 5 s later"
	else
		wait "$vm"
		rc=$?
		[ "$rc" -eq 8 ] && ok "SIGTERM stops a VM whose console is blocked" ||
			not_ok "SIGTERM stops a VM whose console is blocked" "status $rc"
	fi
else
	not_ok "blocked console" "could not assemble the guest: $(cat "$tmp/err")"
fi

# --- hostile images: one error line, status 2 -------------------------------
head -c 4096 /dev/urandom >"$tmp/random.bin"
: >"$tmp/empty.bin"
head -c 100 "$guests/hello.elf" >"$tmp/truncated.elf"
printf '\177ELF\002\001\001' >"$tmp/stub.elf"
expect "random bytes are rejected" 2 "neither an ELF" --kernel "$tmp/random.bin"
expect "an empty file is rejected" 2 "is empty" --kernel "$tmp/empty.bin"
expect "a truncated ELF is rejected" 2 "error: kernel:" --kernel "$tmp/truncated.elf"
expect "a 7-byte ELF is rejected" 2 "error: kernel:" --kernel "$tmp/stub.elf"
expect "a missing kernel file is rejected" 2 "cannot open" --kernel "$tmp/nonexistent"
expect "a directory is rejected" 2 "not a regular file" --kernel "$tmp"
head -c $((3 << 20)) /dev/zero >"$tmp/big.initrd"
expect "an initrd larger than RAM is rejected" 2 "initrd" --mem 2M --kernel "$guests/hello.elf" --initrd "$tmp/big.initrd"
bad_input_checks
lines=$("$berth" run --kernel "$tmp/random.bin" 2>&1 | wc -l)
[ "$lines" -eq 1 ] && ok "a bad image gives exactly one line" || not_ok "one error line" "$lines lines"

# --- Linux ------------------------------------------------------------------
"$here/linux.sh" "$build"
rc=$?
linux_counts=$(cat "$build/linux-test.counts" 2>/dev/null || echo "0 1 0")
read -r lp lf ls <<<"$linux_counts"
passed=$((passed + lp)) failed=$((failed + lf)) skipped=$((skipped + ls))

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
