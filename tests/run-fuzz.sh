#!/usr/bin/env bash
# Run every libFuzzer target in BUILD_DIR/fuzz for SECONDS each (default 30),
# seeded from tests/fuzz/corpus/<name>/ (copied: the repo is not modified).
# Prints "ok - <name>: N runs, no crash" or "not ok - ...", then a total
# line; exits non-zero if a target crashed. Build the targets with
# `make fuzz` (or `make tests`) first.
#   tests/run-fuzz.sh BUILD_DIR [SECONDS]
set -u
build=${1:?usage: tests/run-fuzz.sh BUILD_DIR [SECONDS]}
secs=${2:-30}
cd "$(dirname "$0")/.."

skip() {
	echo "skip - $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# libFuzzer comes with clang's runtime: check that it links, not just that
# clang exists (Debian ships it in a separate package).
command -v clang >/dev/null || skip "clang is not installed"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' >"$tmp/probe.c"
clang -fsanitize=fuzzer -o "$tmp/probe" "$tmp/probe.c" >/dev/null 2>&1 ||
	skip "clang cannot link -fsanitize=fuzzer (no libFuzzer runtime)"

shopt -s nullglob
targets=("$build"/fuzz/fuzz_*)
[ ${#targets[@]} -gt 0 ] || skip "no fuzz targets in $build/fuzz (run make fuzz)"

passed=0 failed=0
for t in "${targets[@]}"; do
	[ -x "$t" ] && [ -f "$t" ] || continue
	case $t in *.d | *.o) continue ;; esac
	name=$(basename "$t")
	corpus="$tmp/$name/corpus"
	artifacts="$build/fuzz/artifacts/$name"
	mkdir -p "$corpus" "$artifacts"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -R "tests/fuzz/corpus/$name/." "$corpus/"
	fi
	log="$tmp/$name/log"
	# -timeout catches a hang on one input; the outer timeout a stuck run.
	timeout $((secs + 120)) "$t" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$artifacts/" \
		"$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		echo "ok - $name: $runs runs, no crash"
		passed=$((passed + 1))
	else
		why=$(grep -m1 -E 'ERROR: |SUMMARY: |runtime error' "$log")
		crash=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
		echo "not ok - $name: exit $rc${why:+: $why}${crash:+ (input: $crash)}"
		tail -n 40 "$log" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
