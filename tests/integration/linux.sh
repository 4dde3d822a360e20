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

# A stock kernel: $BERTH_LINUX_KERNEL, or Debian's cloud kernel package.
find_kernel() {
	local pkg deb
	if [ -n "${BERTH_LINUX_KERNEL:-}" ]; then
		kernel=$BERTH_LINUX_KERNEL
		return 0
	fi
	kernel=$(ls "$cache"/root/boot/vmlinuz-* 2>/dev/null | head -1)
	[ -n "$kernel" ] && return 0
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/.*Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)
	[ -n "$pkg" ] || return 1
	mkdir -p "$cache"
	(cd "$cache" && apt-get download "$pkg" >/dev/null 2>&1) || return 1
	deb=$(ls "$cache"/"$pkg"_*.deb | head -1)
	dpkg-deb -x "$deb" "$cache/root" && rm -f "$deb"
	kernel=$(ls "$cache"/root/boot/vmlinuz-* 2>/dev/null | head -1)
	[ -n "$kernel" ]
}

# banner_within NAME SECONDS [berth args]: pass once "Linux version" shows.
banner_within() {
	local name=$1 limit=$2 log pid start now
	shift 2
	log=$(mktemp)
	start=$(date +%s)
	"$berth" run --mem 512M --kernel "$kernel" "$@" </dev/null >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		grep -q "Linux version" "$log" && break
		now=$(date +%s)
		[ $((now - start)) -ge "$limit" ] && break
		sleep 0.5
	done
	now=$(date +%s)
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if grep -q "Linux version" "$log"; then
		ok "$name (banner after $((now - start)) s)"
	else
		not_ok "$name" "no banner within $limit s; output: $(tail -c 400 "$log" | tr '\n' '|')"
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

banner_within "stock bzImage, decompressed by berth, prints its banner within 40 s" 40 \
	--cmdline "console=ttyS0 earlyprintk=serial"

if [ -d /sys/module/kvm_pvm ]; then
	skip "bzImage through its own decompressor" "PVM host: the guest's decompressor runs in emulated ring 0 for about 90 s; set BERTH_SLOW_TESTS=1 to run it"
	skip "full Linux boot to a shell" "PVM host (/sys/module/kvm_pvm): a stock kernel needs hardware virtualization to boot in useful time"
	if [ -n "${BERTH_SLOW_TESTS:-}" ]; then
		banner_within "bzImage through its own decompressor" 300 \
			--guest-decompress --cmdline "console=ttyS0 earlyprintk=serial"
	fi
	finish
fi

banner_within "bzImage through its own decompressor" 60 \
	--guest-decompress --cmdline "console=ttyS0 earlyprintk=serial"
"$(dirname "$0")/linux-full.sh" "$build" "$kernel"
case $? in
0) ok "full Linux boot to a shell" ;;
77) skip "full Linux boot to a shell" "busybox-static is not installed" ;;
*) not_ok "full Linux boot to a shell" "see the output above" ;;
esac
finish
