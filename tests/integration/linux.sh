#!/usr/bin/env bash
# Boot Debian's stock cloud kernel (a real bzImage) on berth.
#   tests/integration/linux.sh [BUILD_DIR]
# On PVM hosts (software virtualization) a stock kernel cannot finish booting
# in useful time, so there we check that it starts and prints its banner;
# the full boot to a shell runs where hardware virtualization is present.
# Writes "passed failed skipped" to BUILD_DIR/linux-test.counts.
set -u
build=${1:-build}
berth=$build/berth
cache=$build/cache/linux
passed=0 failed=0 skipped=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1: $2"; failed=$((failed + 1)); }
skip() { echo "skip - $1: $2"; skipped=$((skipped + 1)); }
finish() {
	echo "$passed $failed $skipped" >"$build/linux-test.counts"
	exit 0
}

cloud_kernel_package() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/.*Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1
}

# A stock kernel: $BERTH_LINUX_KERNEL, or Debian's cloud kernel package.
find_kernel() {
	local pkg deb
	if [ -n "${BERTH_LINUX_KERNEL:-}" ]; then
		kernel=$BERTH_LINUX_KERNEL
		return 0
	fi
	kernel=$(ls "$cache"/root/boot/vmlinuz-* 2>/dev/null | head -1)
	[ -n "$kernel" ] && return 0
	pkg=$(cloud_kernel_package)
	if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq >/dev/null 2>&1
		pkg=$(cloud_kernel_package)
	fi
	[ -n "$pkg" ] || return 1
	mkdir -p "$cache"
	(cd "$cache" && apt-get download "$pkg" >/dev/null 2>&1) || return 1
	deb=$(ls "$cache"/"$pkg"_*.deb | head -1)
	dpkg-deb -x "$deb" "$cache/root" && rm -f "$deb"
	kernel=$(ls "$cache"/root/boot/vmlinuz-* 2>/dev/null | head -1)
	[ -n "$kernel" ]
}

# shows_within NAME SECONDS PATTERN [berth args]: pass once the kernel's
# output matches PATTERN (grep -E), then stop the VM.
shows_within() {
	local name=$1 limit=$2 pattern=$3 log pid start now
	shift 3
	log=$(mktemp)
	start=$(date +%s)
	"$berth" run --mem 512M --kernel "$kernel" "$@" </dev/null >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		grep -Eq -- "$pattern" "$log" && break
		now=$(date +%s)
		[ $((now - start)) -ge "$limit" ] && break
		sleep 0.5
	done
	now=$(date +%s)
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if grep -Eq -- "$pattern" "$log"; then
		ok "$name (after $((now - start)) s)"
	else
		not_ok "$name" "no /$pattern/ within $limit s; output: $(tail -c 400 "$log" | tr '\n' '|')"
	fi
	rm -f "$log"
}

if [ ! -w /dev/kvm ]; then
	skip "Linux boot" "no usable /dev/kvm"
	finish
fi
if ! find_kernel; then
	skip "Linux boot" "no stock kernel: set BERTH_LINUX_KERNEL or allow apt-get download of linux-image-cloud-amd64"
	finish
fi
echo "# kernel: $kernel"

banner="Linux version [0-9]"
shows_within "stock bzImage, decompressed by berth, prints its banner within 40 s" 40 \
	"$banner" --cmdline "console=ttyS0 earlyprintk=serial"
# Debian's cloud kernel has no MP-table support: this is berth's ACPI MADT.
shows_within "stock kernel finds 2 vCPUs in berth's ACPI tables" 90 \
	"smpboot: Allowing 2 CPUs" --cpus 2 --cmdline "console=ttyS0 earlyprintk=serial"

# The initrd path: Linux reports the ramdisk berth placed, early in setup.
initrd=$(mktemp)
head -c 65536 /dev/urandom >"$initrd"
shows_within "stock kernel finds the initrd berth placed" 90 \
	"RAMDISK: \[mem 0x" --initrd "$initrd" --cmdline "console=ttyS0 earlyprintk=serial"
rm -f "$initrd"

# The classic path: the kernel's own decompressor, in (emulated, on PVM)
# ring 0, then the banner. About 90 s under PVM, a second on hardware.
shows_within "bzImage through its own decompressor prints its banner" 300 \
	"$banner" --guest-decompress --cmdline "console=ttyS0 earlyprintk=serial"

if [ -d /sys/module/kvm_pvm ]; then
	skip "full Linux boot to a shell" "PVM host (/sys/module/kvm_pvm): guest ring 0 is emulated (~2500x slower) and the emulator cannot run some instructions a stock kernel uses (cmpxchg16b); this needs hardware virtualization"
	finish
fi
"$(dirname "$0")/linux-full.sh" "$build" "$kernel"
case $? in
0) ok "full Linux boot to a shell" ;;
77) skip "full Linux boot to a shell" "needs a static busybox (apt-get install busybox-static)" ;;
*) not_ok "full Linux boot to a shell" "see the output above" ;;
esac
finish
