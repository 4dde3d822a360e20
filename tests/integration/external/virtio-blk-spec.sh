#!/bin/bash
# Build virtio_blk_spec.c, a virtio-blk driver written from the virtio 1.2
# specification alone (it shares no code with berth), and boot it on berth
# and on QEMU q35 with a scratch disk. Checks its output and exit status,
# and then every sector of the disk image from the host: the pattern the
# guest wrote, the host's sectors untouched, zeroes everywhere else.
#   tests/integration/external/virtio-blk-spec.sh [BUILD_DIR]  (default: build)
# The guest writes v to port 0xf4 to exit with status 2v + 1: 1 is a pass.
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
out=$build/external
elf=$out/virtio_blk_spec.elf
per_vmm=3 # checks per VMM, keep in step with run_vmm
passed=0
failed=0
skipped=0

sectors=8192 # a 4 MiB disk
host=100     # the host writes a text pattern to sectors 100-107
start=2048   # the guest writes its pattern to [start, start + count)
count=64

ok() {
	echo "ok - $1"
	passed=$((passed + 1))
}

not_ok() {
	echo "not ok - $1: $2"
	failed=$((failed + 1))
}

skip() {
	echo "skip - $1: $2"
	skipped=$((skipped + 1))
}

finish() {
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
	exit
}

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
disk=$tmp/disk.img

# ---- build ------------------------------------------------------------------

mkdir -p "$out" || exit 1
if gcc -m32 -march=i686 -std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding \
	-fno-pic -fno-pie -fno-stack-protector -fcf-protection=none \
	-fno-asynchronous-unwind-tables -mgeneral-regs-only \
	-fno-tree-loop-distribute-patterns -nostdlib -static -no-pie \
	-Wl,-T,"$here/virtio_blk_spec.ld" -Wl,--build-id=none \
	-Wl,--no-warn-rwx-segments -o "$elf" "$here/virtio_blk_spec.c" \
	2>"$tmp/err"; then
	ok "build $elf"
else
	not_ok "build $elf" "$(head -n 5 "$tmp/err")"
	finish
fi

# ---- the disk ---------------------------------------------------------------

host_sector() {
	yes "host pattern, sector $1." | head -c 512
}

new_disk() {
	local s

	rm -f "$disk"
	truncate -s $((sectors * 512)) "$disk" || return 1
	for s in $(seq $host $((host + 7))); do
		host_sector "$s" |
			dd of="$disk" bs=512 seek="$s" conv=notrunc status=none ||
			return 1
	done
}

# check_image SEED: sectors [start, start + count) hold the guest's pattern
# (32-bit word w of sector s is seed + s * 0x9e3779b1 + w * 0x01000193, mod
# 2^32, little-endian), sectors 100-107 still hold the host's text and every
# other byte is zero. Prints the first difference.
check_image() {
	local s

	for s in $(seq $host $((host + 7))); do
		if ! cmp -s <(host_sector "$s") \
			<(dd if="$disk" bs=512 skip="$s" count=1 status=none); then
			echo "host sector $s changed"
			return 1
		fi
	done
	od -A n -v -t u4 -w4 "$disk" | awk -v seed=$(($1)) -v start=$start \
		-v count=$count -v h0=$host -v words=$((sectors * 128)) '
	{
		s = int(k / 128)
		w = k % 128
		k++
		if (s >= h0 && s < h0 + 8)
			next
		want = 0
		if (s >= start && s < start + count)
			want = (seed + s * 2654435761 + w * 16777619) % 4294967296
		if ($1 + 0 != want) {
			printf "sector %d word %d is %.0f, want %.0f\n", s, w, $1, want
			bad = 1
			exit 1
		}
	}
	END {
		if (!bad && k != words) {
			printf "the image has %d words, want %d\n", k, words
			exit 1
		}
	}'
}

# ---- one VMM ----------------------------------------------------------------

# run_vmm berth|qemu: boot the guest on a fresh disk with a fresh seed.
run_vmm() {
	local vmm=$1 seed append t0 ms status log=$tmp/log why p lines

	seed=$(printf '0x%08x' $(((RANDOM << 17 ^ RANDOM << 2 ^ RANDOM) & 0xffffffff)))
	append="seed=$seed start=$start count=$count"
	if ! new_disk; then
		not_ok "$vmm: guest" "cannot create $disk"
		return
	fi
	t0=$(date +%s%N)
	if [ "$vmm" = qemu ]; then
		timeout 60 qemu-system-x86_64 -M q35 -enable-kvm -cpu qemu64 \
			-m 128 -nographic -no-reboot -nic none -kernel "$elf" \
			-append "$append" -device isa-debug-exit,iobase=0xf4 \
			-drive file="$disk",if=none,id=d0,format=raw \
			-device virtio-blk-pci,drive=d0,disable-legacy=on \
			</dev/null >"$log" 2>&1
	else
		timeout 60 "$build/berth" run --mem 128M --kernel "$elf" \
			--disk "$disk" --cmdline "$append" </dev/null >"$log" 2>&1
	fi
	status=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "# $vmm: $ms ms wall for the whole VM run, exit status $status"
	# the guest's lines, without CRs or SeaBIOS's banner before them
	lines=$(tr -d '\r' <"$log" | sed 's/^.*Booting from ROM\.\.//')

	why=
	if [ "$status" != 1 ]; then
		why="exit status $status, want 1"
	elif grep -q '^FAIL' <<<"$lines"; then
		why=$(grep -m 1 '^FAIL' <<<"$lines")
	else
		for p in '^virtio-blk-spec: 1af4:1042 at 00:[0-9a-f]{2}\.[0-7], ' \
			"^virtio-blk-spec: capacity $sectors sectors\$" \
			"^virtio-blk-spec: host pattern at sectors $host-$((host + 7)) read ok\$" \
			"^virtio-blk-spec: wrote $count sectors at $start in [0-9]+ requests\$" \
			'^virtio-blk-spec: (flush ok|VIRTIO_BLK_F_FLUSH not offered)$' \
			"^virtio-blk-spec: read back and verified $count sectors in " \
			'^virtio-blk-spec: reset, initialised again, re-read ok$' \
			'^PASS$'; do
			if ! grep -Eq -- "$p" <<<"$lines"; then
				why="output lacks /$p/"
				break
			fi
		done
	fi
	if [ -z "$why" ]; then
		ok "$vmm: guest wrote, flushed, read back and re-read its pattern"
	else
		not_ok "$vmm: guest" "$why"
		grep -v '^SPEC' <<<"$lines" | tail -n 5 | sed 's/^/#   /'
	fi

	if grep -q '^SPEC' <<<"$lines"; then
		not_ok "$vmm: device follows the spec" \
			"$(grep -c '^SPEC' <<<"$lines") deviations"
		grep '^SPEC' <<<"$lines" | sed 's/^/#   /'
	elif [ -n "$why" ]; then
		not_ok "$vmm: device follows the spec" "the guest did not finish"
	else
		ok "$vmm: device follows the spec (no SPEC lines)"
	fi

	if [ "$status" != 1 ]; then
		not_ok "$vmm: disk image" "not checked, the guest failed"
	elif ! command -v od >/dev/null || ! command -v awk >/dev/null; then
		not_ok "$vmm: disk image" "od and awk are needed to check it"
	elif ! why=$(check_image "$seed"); then
		not_ok "$vmm: disk image" "$why"
	else
		ok "$vmm: disk image holds exactly the guest's and the host's data"
	fi
}

if [ ! -e /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	for vmm in berth qemu; do
		for _ in $(seq $per_vmm); do
			skip "$vmm" "no usable /dev/kvm"
		done
	done
	finish
fi

if [ -x "$build/berth" ]; then
	run_vmm berth
else
	for _ in $(seq $per_vmm); do
		skip berth "$build/berth is not built (make)"
	done
fi

if command -v qemu-system-x86_64 >/dev/null; then
	run_vmm qemu
else
	for _ in $(seq $per_vmm); do
		skip qemu "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
	done
fi

finish
