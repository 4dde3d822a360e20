#!/usr/bin/env bash
# Run every test suite and print one total line: "N passed, M failed, K skipped".
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
total_p=0 total_f=0 total_s=0 status=0

suite() {
	local name=$1 log rc line p f s
	shift
	echo "== $name"
	log=$(mktemp)
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	rm -f "$log"
	p=$(sed -n 's/.*\b\([0-9]\+\) passed.*/\1/p' <<<"$line")
	f=$(sed -n 's/.*\b\([0-9]\+\) failed.*/\1/p' <<<"$line")
	s=$(sed -n 's/.*\b\([0-9]\+\) skipped.*/\1/p' <<<"$line")
	total_p=$((total_p + ${p:-0}))
	total_f=$((total_f + ${f:-0}))
	total_s=$((total_s + ${s:-0}))
	if [ "$rc" -ne 0 ]; then
		status=1
		[ -z "$line" ] && total_f=$((total_f + 1))
	fi
}

style() {
	if ! command -v clang-format >/dev/null; then
		echo "skip - clang-format is not installed"
		echo "0 passed, 0 failed, 1 skipped"
		return 0
	fi
	if make --no-print-directory format-check; then
		echo "ok - clang-format leaves every C file unchanged"
		echo "1 passed, 0 failed"
	else
		echo "not ok - clang-format"
		echo "0 passed, 1 failed"
		return 1
	fi
}

suite "style" style
suite "unit tests" tests/run-unit.sh "$build"/tests/test_*
suite "unit tests (ASan, UBSan)" tests/run-unit.sh "$build"/san/tests/test_*
suite "ACPI tables checked by ACPICA (iasl, acpiexec)" tests/acpi-iasl.sh "$build"
suite "fuzzing (30 s per target)" tests/run-fuzz.sh "$build" 30
suite "integration: guests on berth" tests/integration/run.sh "$build"
suite "integration: the same guests on QEMU" tests/integration/qemu-guests.sh "$build"
suite "virtio on berth" tests/integration/virtio.sh "$build" berth
suite "virtio: the same guests on QEMU" tests/integration/virtio.sh "$build" qemu
suite "virtio-blk driven by a clean-room guest (berth, QEMU)" tests/integration/external/virtio-blk-spec.sh "$build"
suite "networking: berth switch, tap" tests/integration/net.sh "$build"
suite "CPU sharing: weights, caps, pinning, steal time" tests/integration/cpu-share.sh "$build"
suite "berthd: API, lifecycle, malformed requests, restart, client" tests/integration/berthd.sh "$build"
suite "metering: usage records, /metrics, berth usage and top" tests/integration/metering.sh "$build"

echo "== total"
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$status" -eq 0 ] && [ "$total_f" -eq 0 ]
