#!/usr/bin/env bash
# Run every test suite and print one total line: "N passed, M failed, K skipped".
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
total_p=0 total_f=0 total_s=0 status=0

suite() {
	local name=$1 out rc line p f s
	shift
	echo "== $name"
	out=$("$@" 2>&1 | tee /dev/stderr)
	rc=${PIPESTATUS[0]}
	line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
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

suite "unit tests" tests/run-unit.sh "$build"/tests/test_*
suite "unit tests (ASan, UBSan)" tests/run-unit.sh "$build"/san/tests/test_*
suite "integration: guests on berth" tests/integration/run.sh "$build"
suite "integration: the same guests on QEMU" tests/integration/qemu-guests.sh "$build"

echo "== total"
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$status" -eq 0 ] && [ "$total_f" -eq 0 ]
