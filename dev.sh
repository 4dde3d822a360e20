#!/usr/bin/env bash
# The two commands of the README, usable on a fresh Debian 12 machine
# (even one without make or gcc):
#   ./dev.sh run [berth run options]   install what is missing, build, boot a VM
#   ./dev.sh test                      install what is missing, build, run every test
set -euo pipefail
cd "$(dirname "$0")"
cmd=${1:-run}
[ $# -gt 0 ] && shift
case "$cmd" in
run)
	scripts/install-deps.sh run
	make --no-print-directory -j"$(nproc)" all
	exec build/berth run "$@"
	;;
test)
	scripts/install-deps.sh test
	make --no-print-directory -j"$(nproc)" all tests
	exec tests/run-all.sh build
	;;
*)
	echo "usage: ./dev.sh run [berth run options] | ./dev.sh test" >&2
	exit 2
	;;
esac
