#!/bin/bash
# Boot the virtio test guests on a VMM and check their output, their exit
# status and, for the block tests, what reached the disk image. The same
# checks run on berth and on QEMU q35 (modern virtio-pci devices, BARs
# assigned by SeaBIOS), so the guests are known to follow the spec, not
# berth.
#   tests/integration/virtio.sh [BUILD_DIR] [berth|qemu]  (default: build berth)
# A guest writing v to port 0xf4 exits with status 2v + 1: a passing guest
# gives 1, a failing one 3.
set -u

build=${1:-build}
vmm=${2:-berth}
gdir=$build/guest
checks=17 # keep in step with the check calls below
passed=0
failed=0
skipped=0

skip() {
	echo "skip - $vmm virtio: $1"
	echo "0 passed, 0 failed, $checks skipped"
	exit 0
}

# skip_check NAME WHY: one check that cannot run on this VMM.
skip_check() {
	echo "skip - $1: $2"
	skipped=$((skipped + 1))
}

if [ "$vmm" = qemu ]; then
	command -v qemu-system-x86_64 >/dev/null ||
		skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
else
	[ -x "$build/berth" ] || skip "$build/berth is not built"
fi
[ -e /dev/kvm ] || skip "/dev/kvm is missing"
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip "no access to /dev/kvm"
fi

for g in virtio_blk virtio_rng virtio_console blkbench; do
	if [ ! -f "$gdir/$g.elf" ]; then
		echo "not ok - build: $gdir/$g.elf missing (make guests)"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
disk=$tmp/disk.img
sectors=16384 # an 8 MiB disk

# A fresh disk of zeroes (or of byte $1, as octal for tr, e.g. 377).
new_disk() {
	rm -f "$disk"
	if [ -n "${1:-}" ]; then
		head -c $((sectors * 512)) /dev/zero | tr '\0' "\\$1" >"$disk"
	else
		truncate -s $((sectors * 512)) "$disk"
	fi
}

# boot ELF CMDLINE [DEVICE...]: boot with the devices asked for, COM1 on
# stdout; sets $out (guest output without CRs or the BIOS banner) and
# $status. Devices, in a VMM-neutral form:
#   blk[:ro][:discard][:serial=S][:fail=N]   $disk as a modern virtio-blk
#   rng                                      a virtio-rng
#   -option value                            passed to the VMM as they are
# QEMU runs q35 with SeaBIOS and no NIC (its option ROM costs a second).
boot() {
	local elf=$gdir/$1 append=$2 dev args=()
	shift 2
	while [ $# -gt 0 ]; do
		dev=$1
		shift
		if [ "${dev:0:1}" = - ]; then # a VMM option and its value, as is
			args+=("$dev" "$1")
			shift
		elif [ "$vmm" = qemu ]; then
			args+=($(qemu_device "$dev"))
		else
			args+=($(berth_device "$dev"))
		fi
	done
	if [ "$vmm" = qemu ]; then
		timeout 90 qemu-system-x86_64 -M q35 -enable-kvm -cpu qemu64 \
			-m 256 -nographic -no-reboot -nic none -kernel "$elf" \
			-device isa-debug-exit,iobase=0xf4 -append "$append" \
			"${args[@]}" </dev/null >"$tmp/log" 2>&1
	else
		timeout 90 "$build/berth" run --mem 256M --kernel "$elf" \
			--cmdline "$append" "${args[@]}" </dev/null >"$tmp/log" 2>&1
	fi
	status=$?
	out=$(tr -d '\r' <"$tmp/log" | sed 's/^.*Booting from ROM\.\.//')
}

qemu_device() {
	local drive="file=$disk,if=none,id=d0,format=raw" dev="virtio-blk-pci,drive=d0,disable-legacy=on"

	case $1 in
	rng) echo "-device virtio-rng-pci,disable-legacy=on" ;;
	blk*)
		case $1 in *:ro*) drive+=",readonly=on" ;; esac
		case $1 in *:discard*) drive+=",discard=unmap" ;; esac
		case $1 in *:serial=*) dev+=",serial=${1##*serial=}" ;; esac
		echo "-drive $drive -device $dev"
		;;
	esac
}

berth_device() {
	local d=$disk

	case $1 in
	rng) echo "--rng" ;;
	blk*)
		case $1 in *:ro*) d+=",ro" ;; esac
		case $1 in *:fail=*) d+=",fail-sector=${1##*fail=}" ;; esac
		echo "--disk $d"
		;;
	esac
}

# The same with COM1 in a file and the VMM's stdio given to a virtio
# console (QEMU: a virtconsole; berth: --console virtio): $input is typed
# into the console, $console gets what the guest wrote.
boot_console() {
	local elf=$gdir/$1 append=$2
	shift 2
	rm -f "$tmp/com1"
	if [ "$vmm" = qemu ]; then
		timeout 90 qemu-system-x86_64 -M q35 -enable-kvm -cpu qemu64 \
			-m 256 -display none -serial "file:$tmp/com1" \
			-no-reboot -nic none -kernel "$elf" \
			-device isa-debug-exit,iobase=0xf4 -append "$append" \
			-device virtio-serial-pci,disable-legacy=on \
			-chardev stdio,id=c0 -device virtconsole,chardev=c0 "$@" \
			< <(printf '%s' "${input:-}") >"$tmp/console" 2>"$tmp/log"
	else
		timeout 90 "$build/berth" run --mem 256M --kernel "$elf" \
			--cmdline "$append" --serial "file:$tmp/com1" \
			--console virtio "$@" \
			< <(printf '%s' "${input:-}") >"$tmp/console" 2>"$tmp/log"
	fi
	status=$?
	console=$(cat "$tmp/console")
	out=$(tr -d '\r' <"$tmp/com1" 2>/dev/null; cat "$tmp/log")
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
# +REGEX must match a line of the output and no -REGEX may. Returns 1 (and
# counts a failure) if anything is off, 0 without counting a pass, so that
# a caller can add checks of its own before calling ok.
check_out() {
	local name=$1 want=$2 p
	shift 2

	if [ "$status" != "$want" ]; then
		not_ok "$name" "exit status $status, want $want"
		return 1
	fi
	for p in "$@"; do
		if [ "${p:0:1}" = + ] && ! grep -Eq -- "${p:1}" <<<"$out"; then
			not_ok "$name" "output lacks /${p:1}/"
			return 1
		elif [ "${p:0:1}" = - ] && grep -Eq -- "${p:1}" <<<"$out"; then
			not_ok "$name" "output has /${p:1}/"
			return 1
		fi
	done
	return 0
}

check() {
	check_out "$@" && ok "$1"
}

# Every guest passes this way: PASS, no FAIL, and the virtio_find() line
# without the missing-PCI_CFG warning.
PASSED=('+^PASS$' '-^FAIL' '-warning: no VIRTIO_PCI_CAP_PCI_CFG')

# pattern_on_disk FIRST COUNT: sectors [FIRST, FIRST + COUNT) of the image
# hold virtio_blk's pattern: 64-bit word i of sector s is
# 0x5eed000000000000 | i << 40 | s. Prints the first difference.
pattern_on_disk() {
	od -A n -v -t x8 -j $(($1 * 512)) -N $(($2 * 512)) "$disk" |
		awk -v first="$1" -v count="$2" '
		{
			for (f = 1; f <= NF; f++) {
				s = first + int(k / 64)
				want = sprintf("5eed%02x%010x", k % 64, s)
				if ($f != want) {
					printf "sector %d word %d is %s, want %s\n",
						s, k % 64, $f, want
					bad = 1
					exit 1
				}
				k++
			}
		}
		END {
			if (!bad && k != count * 64) {
				printf "only %d words read\n", k
				exit 1
			}
		}'
}

# bytes_on_disk FIRST COUNT HEX: every byte of those sectors is 0xHEX.
bytes_on_disk() {
	od -A n -v -t x1 -j $(($1 * 512)) -N $(($2 * 512)) "$disk" |
		tr -s ' ' '\n' | grep -v "^$3\$" | grep -q . && return 1
	return 0
}

# check_pattern NAME FIRST COUNT: the guest passed and the image agrees.
check_pattern() {
	local why

	if ! command -v awk >/dev/null || ! command -v od >/dev/null; then
		not_ok "$1" "awk and od are needed to check the disk image"
	elif ! why=$(pattern_on_disk "$2" "$3"); then
		not_ok "$1" "disk image: $why"
	else
		ok "$1"
	fi
}

# ---- virtio-blk ------------------------------------------------------------

new_disk
boot virtio_blk.elf "mode=pattern sectors=2048" blk
check_out "blk pattern qd=1" 1 "${PASSED[@]}" \
	'+^virtio-blk 00:[0-9a-f]{2}\.[0-7]: 1af4:1042, common BAR[0-5]' \
	"+^blk: capacity $sectors sectors, wrote and verified 2048 sectors$" &&
	check_pattern "blk pattern qd=1" 0 2048

new_disk
boot virtio_blk.elf \
	"mode=pattern sectors=$sectors qd=32 indirect=1 event_idx=1" blk
check_out "blk pattern qd=32 indirect event_idx" 1 "${PASSED[@]}" \
	'+: capacity [0-9]+ sectors, .*; .*indirect event-idx$' \
	"+^blk: capacity $sectors sectors, wrote and verified $sectors sectors$" &&
	check_pattern "blk pattern qd=32 indirect event_idx" 0 $sectors

new_disk
# A 16-entry queue holds only three of these 5-descriptor requests: the
# driver must write the smaller queue_size and wait for room.
boot virtio_blk.elf \
	"mode=pattern start=100 sectors=300 per=3 qd=8 irq=1 qsize=16" blk
check_out "blk pattern irq=1 (MSI-X) qsize=16" 1 "${PASSED[@]}" \
	'+queue size 16, MSI-X; ' \
	'+^blk: [0-9]+ requests, .* [1-9][0-9]* interrupts$' &&
	check_pattern "blk pattern irq=1 (MSI-X) qsize=16" 100 300

new_disk
boot virtio_blk.elf "mode=readonly" blk:ro
check "blk readonly" 1 "${PASSED[@]}" '+; ro( |$)' \
	'+^blk: read-only: write failed with IOERR, read ok$'

# QEMU punches a hole only with discard=unmap; berth always does. Whether
# QEMU's host file system then reads zeroes is the host's business, so for
# QEMU only say what it did; berth must have punched the hole.
new_disk 377
boot virtio_blk.elf "mode=discard start=64 count=64" blk:discard
if check_out "blk discard" 1 "${PASSED[@]}" \
	'+^blk: discarded 64 sectors at 64$'; then
	if bytes_on_disk 64 64 00 && bytes_on_disk 0 64 ff &&
		bytes_on_disk 128 64 ff; then
		ok "blk discard (host punched a hole)"
	elif [ "$vmm" = berth ]; then
		not_ok "blk discard" "sectors 64-127 of the image still hold data"
	else
		ok "blk discard (host kept the data)"
	fi
fi

new_disk 377
boot virtio_blk.elf "mode=write-zeroes start=8 count=16" blk
if check_out "blk write-zeroes" 1 "${PASSED[@]}" \
	'+^blk: wrote zeroes to 16 sectors at 8, verified$'; then
	if ! bytes_on_disk 8 16 00; then
		not_ok "blk write-zeroes" "the image is not zero there"
	elif ! why=$(pattern_on_disk 7 1) || ! why=$(pattern_on_disk 24 1); then
		not_ok "blk write-zeroes" "the image around: $why"
	else
		ok "blk write-zeroes"
	fi
fi

new_disk
boot virtio_blk.elf "mode=write-zeroes start=100 count=16 unmap=1" \
	blk:discard
check "blk write-zeroes unmap" 1 "${PASSED[@]}" \
	'+^blk: wrote zeroes to 16 sectors at 100 \(unmap\), verified$'

if [ "$vmm" = qemu ]; then
	boot virtio_blk.elf "mode=id" blk:serial=berth-test-disk
	check "blk id" 1 "${PASSED[@]}" '+^blk: id "berth-test-disk"$'
else
	boot virtio_blk.elf "mode=id" blk
	check "blk id" 1 "${PASSED[@]}" '+^blk: id "berth-[^"]+"$'
fi

# A read past the end fails with IOERR and the device carries on.
boot virtio_blk.elf "mode=errors sector=$sectors" blk
check "blk errors" 1 "${PASSED[@]}" \
	"+^blk: read at sector $sectors failed with IOERR as expected"

# A backend error (berth's fault injection: EIO from io_uring for sector
# 100) reaches the guest as IOERR, and later requests still succeed.
if [ "$vmm" = berth ]; then
	boot virtio_blk.elf "mode=errors sector=100" blk:fail=100
	check "blk backend EIO becomes IOERR" 1 "${PASSED[@]}" \
		"+^blk: read at sector 100 failed with IOERR as expected, read at sector 0 ok"
else
	skip_check "blk backend EIO becomes IOERR" "berth's fail-sector injection only"
fi

# A 2 GiB ivshmem BAR does not fit below 4 GiB, so SeaBIOS moves every
# 64-bit BAR above it, virtio's too: the driver must map it.
if [ "$vmm" = qemu ] &&
	qemu-system-x86_64 -device help 2>/dev/null | grep -q '"ivshmem-plain"'; then
	new_disk
	boot virtio_blk.elf "mode=pattern sectors=64 qd=4" blk \
		-object memory-backend-ram,id=shm,size=2G \
		-device ivshmem-plain,memdev=shm
	check "blk with its BAR above 4 GiB" 1 "${PASSED[@]}" \
		'+common BAR[0-5]\+0x[0-9a-f]+ at 0x[1-9a-f][0-9a-f]{8,} \(64-bit' \
		'+^blk: capacity [0-9]+ sectors, wrote and verified 64 sectors$'
else
	skip_check "blk with its BAR above 4 GiB" "a QEMU ivshmem-plain device is needed to push BARs above 4 GiB"
fi

# A device the guest expects and QEMU does not have: a clear failure.
boot virtio_blk.elf "mode=id"
check "blk without a disk" 3 '+^virtio-blk: no device number 0 on PCI bus 0$' \
	'+^FAIL: no usable virtio-blk device: ENODEV$'

# ---- virtio-rng and virtio-console -----------------------------------------

boot virtio_rng.elf "" rng
check "rng" 1 "${PASSED[@]}" \
	'+^rng: read 4096 bytes twice in [0-9]+ requests, [0-9]+ and [0-9]+ dis'

boot virtio_rng.elf "irq=1" rng
check "rng irq=1" 1 "${PASSED[@]}" '+^virtio-rng .*: queue size [0-9]+, MSI-X$'

# check_console NAME LINE: what the host got on the console is the
# guest's greeting followed by LINE, echoed.
check_console() {
	if [ "$console" = $'hello from virtio-console\n'"$2" ]; then
		ok "$1"
	else
		not_ok "$1" "the host got: $(printf '%q' "$console")"
	fi
}

input=$'typed into the console\n' boot_console virtio_console.elf "echo=1"
check_out "console echo" 1 "${PASSED[@]}" \
	'+^console: read "typed into the console"$' &&
	check_console "console echo" "typed into the console"

input=$'late line\n' boot_console virtio_console.elf "echo=1 irq=1"
check_out "console echo irq=1" 1 "${PASSED[@]}" '+port 0, .*MSI-X$' \
	'+^console: read "late line"$' &&
	check_console "console echo irq=1" "late line"

# ---- blkbench --------------------------------------------------------------

new_disk
# bench_line TEST QD: the regex for blkbench's line, 200 requests.
bench_line() {
	printf '+^blkbench: test=%s bs=[0-9]+ qd=%s ops=200 bytes=[0-9]+ ' "$1" "$2"
	printf 'usec=[0-9]+ iops=[0-9]+ mbps=[0-9]+\\.[0-9]{2}$'
}
boot blkbench.elf "count=200" blk
check "blkbench" 1 "${PASSED[@]}" "$(bench_line randread-4k-qd1 1)" \
	"$(bench_line randread-4k-qd32 32)" "$(bench_line seqread-1m 1)" \
	"$(bench_line seqwrite-1m 1)"

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
