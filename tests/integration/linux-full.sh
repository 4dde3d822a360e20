#!/usr/bin/env bash
# Boot a stock kernel with a busybox initramfs whose /init prints a marker
# and powers off (ACPI S5 through berth's FADT sleep register, status 0).
# Exit 0 on success, 77 if busybox-static is missing.
#   tests/integration/linux-full.sh BUILD_DIR KERNEL
set -u
build=$1 kernel=$2
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" 2>/dev/null | grep -q "statically linked" ||
	exit 77
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,proc,sys,dev}
cp "$busybox" "$root/bin/busybox"
for c in sh echo mount poweroff grep; do ln -s busybox "$root/bin/$c"; done
cat >"$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
echo "BERTH-LINUX-OK cpus=$(grep -c ^processor /proc/cpuinfo)"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip) >"$root.cpio.gz"
timeout 300 "$build/berth" run --mem 512M --cpus 2 --kernel "$kernel" \
	--initrd "$root.cpio.gz" --cmdline "console=ttyS0 panic=-1" </dev/null | tee "$root.log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
	echo "berth exited with status $rc, expected 0 (powered off)"
elif ! grep -q "BERTH-LINUX-OK cpus=2" "$root.log"; then
	rc=1
fi
rm -f "$root.cpio.gz" "$root.log"
exit $rc
