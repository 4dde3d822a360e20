#!/usr/bin/env bash
# Install the Debian packages berth needs that are missing, and say which.
#   scripts/install-deps.sh run    what building and running berth needs
#   scripts/install-deps.sh test   that, plus what the test suite needs
set -euo pipefail

build_pkgs=(gcc make libc6-dev linux-libc-dev zlib1g-dev libbz2-dev
	liblzma-dev liblz4-dev libzstd-dev liburing-dev libjson-c-dev
	libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev)
test_pkgs=(libcmocka-dev qemu-system-x86 clang clang-format libclang-rt-14-dev
	cpio file acpica-tools iproute2 iputils-ping curl jq python3)

pkgs=("${build_pkgs[@]}")
[ "${1:-run}" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "berth: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null; then
	sudo=(sudo)
else
	echo "berth: error: not root and no sudo; install them by hand: apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "berth: installed ${missing[*]}"
