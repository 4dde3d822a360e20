# Shared by the integration scripts: TAP-like result lines and the closing
# "N passed, M failed, K skipped". Source it after setting passed, failed
# and skipped to 0.
# shellcheck shell=bash

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1: $2"; failed=$((failed + 1)); }
skip() { echo "skip - $1: $2"; skipped=$((skipped + 1)); }
# check NAME CONDITION [DETAIL]: ok if CONDITION (a shell expression) holds.
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-$2}"; fi; }

finish() {
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

# api METHOD PATH [BODY]: ask berthd on $sock; the answer's status in
# $code, its body in $body ($tmp holds the scratch file).
api() {
	local args=(-s -o "$tmp/body" -w '%{http_code}' --unix-socket "$sock"
		-X "$1" "http://berthd$2")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	code=$(curl "${args[@]}" 2>/dev/null)
	body=$(cat "$tmp/body" 2>/dev/null)
}
# jf FILTER: a jq filter over the last answer's body.
jf() { jq -r "$1" <<<"$body" 2>/dev/null; }

# For the berthd scripts: every VM process of a test has $state/vms/ on its
# command line; berthd_cleanup (an EXIT trap) kills berthd ($dpid), those
# VMs, and removes $tmp.
kill_vms() {
	local p
	for p in /proc/[0-9]*; do
		grep -qs "$state/vms/" "$p/cmdline" && kill -9 "${p#/proc/}" 2>/dev/null
	done
}

berthd_cleanup() {
	[ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	kill_vms
	rm -rf "$tmp"
}
