#!/usr/bin/env bash
# Networking on berth: guests on a `berth switch` and behind a tap.
#   tests/integration/net.sh [BUILD_DIR]
# - two guests on one switch ping each other both ways; a third guest on
#   the same switch sees the broadcast ARP but none of their unicast;
#   `berth switch --stats` counts what went through;
# - a guest behind a tap, inside a network namespace this script creates,
#   answers the host's ping (polling and interrupt-driven);
# - a NIC on a switch that is not running is one clear error line.
# The tap checks need root (network namespaces, tap devices); they are
# skipped with a message otherwise. Addresses are 10.79.0.0/16, inside the
# namespace only.
set -u
build=${1:-build}
berth=$build/berth
g=$build/guest/virtio_net.elf
passed=0 failed=0 skipped=0
tmp=$(mktemp -d)
ns=berth-net-$$
swpid=

cleanup() {
	[ -n "$swpid" ] && kill "$swpid" 2>/dev/null && wait "$swpid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# the last lines of a log on one line, for a failure message
tail_of() { tail -c 700 "$1" | tr '\n' '|'; }

if [ ! -x "$berth" ] || [ ! -f "$g" ]; then
	not_ok "build" "$berth or $g is missing (make)"
	finish
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip "networking" "no usable /dev/kvm on this machine"
	finish
fi

# vm NAME CMDLINE NET...: boot the station in the background; its output
# goes to $tmp/NAME.log and its exit status to $tmp/NAME.rc.
vm() {
	local name=$1 cmdline=$2
	shift 2
	(
		timeout -k 5 60 "$berth" run --kernel "$g" --cmdline "$cmdline" \
			"$@" </dev/null >"$tmp/$name.log" 2>&1
		echo $? >"$tmp/$name.rc"
	) &
}

# wait_vm NAME...: until each has exited (at most 30 s).
wait_vm() {
	for n in "$@"; do
		for _ in $(seq 300); do [ -f "$tmp/$n.rc" ] && break; sleep 0.1; done
	done
}

# passed_vm NAME CHECK: the station exited with status 1 (PASS).
passed_vm() {
	local rc
	rc=$(cat "$tmp/$1.rc" 2>/dev/null)
	if [ "$rc" = 1 ]; then
		ok "$2"
	else
		not_ok "$2" "exit status ${rc:-none}: $(tail_of "$tmp/$1.log")"
	fi
}

# ---- berth switch: three guests ------------------------------------------
sock=$tmp/sw.sock
"$berth" switch --socket "$sock" >"$tmp/switch.log" 2>&1 &
swpid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
if [ ! -S "$sock" ]; then
	not_ok "berth switch starts" "no socket: $(tail_of "$tmp/switch.log")"
	finish
fi
ok "berth switch starts and listens"

mac_a=52:54:00:00:0a:01 mac_b=52:54:00:00:0a:02 mac_w=52:54:00:00:0a:03
vm watch "mode=watch ip=10.79.1.3 secs=6" --net "switch=$sock,mac=$mac_w"
vm resp "mode=responder ip=10.79.1.2 count=3 secs=20" \
	--net "switch=$sock,mac=$mac_b"
sleep 0.5
vm ping "mode=ping ip=10.79.1.1 peer=10.79.1.2 count=3" \
	--net "switch=$sock,mac=$mac_a"
wait_vm ping resp watch
passed_vm ping "switch: guest A pings guest B (3 echo replies)"
passed_vm resp "switch: guest B answers 3 echo requests from A"
if grep -q "ping: 3/3 replies" "$tmp/ping.log"; then
	ok "switch: A got all 3 replies"
else
	not_ok "switch: A got all 3 replies" "$(tail_of "$tmp/ping.log")"
fi
w=$(grep -E '^watch: broadcast=' "$tmp/watch.log")
if [[ $w =~ broadcast=([0-9]+)\ mine=([0-9]+)\ foreign-unicast=([0-9]+) ]] &&
	[ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[3]}" -eq 0 ]; then
	ok "switch: guest W saw the broadcast ARP and none of A's and B's unicast ($w)"
else
	not_ok "switch: guest W sees no foreign unicast" "${w:-no watch line}: $(tail_of "$tmp/watch.log")"
fi

# The other way round on the same switch: B pings A. A's VM has a second
# NIC on the switch and stays up for 5 s, so the switch still has its port
# when --stats asks.
rm -f "$tmp"/*.rc
vm resp "mode=responder ip=10.79.1.1 count=0 secs=5" \
	--net "switch=$sock,mac=$mac_a" --net "switch=$sock,mac=52:54:00:00:0a:04"
sleep 0.5
vm ping "mode=ping ip=10.79.1.2 peer=10.79.1.1 count=2 irq=1" \
	--net "switch=$sock,mac=$mac_b"
wait_vm ping
passed_vm ping "switch: the other way, B pings A (interrupt-driven)"
"$berth" switch --socket "$sock" --stats >"$tmp/stats" 2>&1
rc=$?
# A's port (from the MAC table) sent the ARP reply and two echo replies.
port=$(awk -v m="$mac_a" '$1 == m { print $2 }' "$tmp/stats")
rx=$(awk -v p="$port" '$1 == p && NF >= 13 { print $5 }' "$tmp/stats")
if [ "$rc" -eq 0 ] && [ -n "$port" ] && [ "${rx:-0}" -ge 3 ]; then
	ok "berth switch --stats: A's MAC learned on port $port, $rx frames received from it"
else
	not_ok "berth switch --stats" "status $rc, port '$port', rx '$rx': $(tail_of "$tmp/stats")"
fi
wait_vm resp
passed_vm resp "switch: A answered (a second NIC on the same VM is harmless)"

kill "$swpid" 2>/dev/null
wait "$swpid" 2>/dev/null
swpid=
timeout 20 "$berth" run --kernel "$g" --net "switch=$sock" </dev/null >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q "berth switch" "$tmp/out" && [ "$(wc -l <"$tmp/out")" -eq 1 ]; then
	ok "a switch that is not running: one error line, exit status 2"
else
	not_ok "no switch running" "status $rc: $(tail_of "$tmp/out")"
fi

# ---- tap in a network namespace ------------------------------------------
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v ping >/dev/null; then
	skip "tap" "needs root, ip (iproute2) and ping (iputils-ping) to make a namespace and a tap"
	finish
fi
if ! ip netns add "$ns" 2>"$tmp/err" ||
	! ip netns exec "$ns" ip tuntap add bt0 mode tap 2>>"$tmp/err"; then
	skip "tap" "cannot create a network namespace with a tap here: $(tail_of "$tmp/err")"
	finish
fi
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip addr add 10.79.0.1/24 dev bt0
ip netns exec "$ns" ip link set bt0 up

for irq in 0 1; do
	rm -f "$tmp"/*.rc
	(
		ip netns exec "$ns" timeout -k 5 60 "$berth" run --kernel "$g" \
			--cmdline "mode=responder ip=10.79.0.2 count=3 secs=30 irq=$irq" \
			--net tap=bt0,mac=52:54:00:00:0b:01 </dev/null >"$tmp/tap.log" 2>&1
		echo $? >"$tmp/tap.rc"
	) &
	for _ in $(seq 50); do grep -q "responder: ip" "$tmp/tap.log" 2>/dev/null && break; sleep 0.1; done
	ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 10.79.0.2 >"$tmp/ping.out" 2>&1
	wait_vm tap
	if grep -q "3 received" "$tmp/ping.out"; then
		ok "tap: the host pings the guest, 3 of 3 replies (irq=$irq)"
	else
		not_ok "tap: host ping (irq=$irq)" "$(tail_of "$tmp/ping.out") guest: $(tail_of "$tmp/tap.log")"
	fi
	passed_vm tap "tap: the guest answered 3 echo requests (irq=$irq)"
done

# ---- the same guests on QEMU ----------------------------------------------
# Two QEMU guests joined by a stream socket, and one behind the tap: the
# guests follow the spec, not berth.
q=(qemu-system-x86_64 -M q35 -enable-kvm -cpu qemu64 -m 256 -display none
	-no-reboot -nic none -device isa-debug-exit,iobase=0xf4 -kernel "$g")
qnic() { # qnic NETDEV MAC
	echo "-netdev $1 -device virtio-net-pci,disable-legacy=on,netdev=n0,mac=$2,romfile="
}
qvm() { # qvm NAME CMDLINE NETDEV MAC [ns]
	local name=$1 cmdline=$2 netdev=$3 mac=$4 ns=${5:-}
	(
		# shellcheck disable=SC2046
		${ns:+ip netns exec "$ns"} timeout -k 5 60 "${q[@]}" -serial "file:$tmp/$name.log" \
			-append "$cmdline" $(qnic "$netdev" "$mac") </dev/null >"$tmp/$name.err" 2>&1
		echo $? >"$tmp/$name.rc"
	) &
}
if command -v qemu-system-x86_64 >/dev/null; then
	rm -f "$tmp"/*.rc
	qs=$tmp/q.sock
	qvm qresp "mode=responder ip=10.79.2.2 count=3" \
		"stream,id=n0,server=on,addr.type=unix,addr.path=$qs" 52:54:00:00:0c:02
	for _ in $(seq 100); do [ -S "$qs" ] && break; sleep 0.1; done
	qvm qping "mode=ping ip=10.79.2.1 peer=10.79.2.2 count=3" \
		"stream,id=n0,server=off,addr.type=unix,addr.path=$qs" 52:54:00:00:0c:01
	wait_vm qping qresp
	passed_vm qping "QEMU: guest A pings guest B over a stream netdev"
	passed_vm qresp "QEMU: guest B answers"
	rm -f "$tmp"/*.rc
	qvm qtap "mode=responder ip=10.79.0.2 count=3 irq=1" \
		"tap,id=n0,ifname=bt0,script=no,downscript=no" 52:54:00:00:0c:03 "$ns"
	for _ in $(seq 150); do grep -q "responder: ip" "$tmp/qtap.log" 2>/dev/null && break; sleep 0.1; done
	ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 10.79.0.2 >"$tmp/ping.out" 2>&1
	wait_vm qtap
	if grep -q "3 received" "$tmp/ping.out"; then
		ok "QEMU: the host pings the same guest behind the tap"
	else
		not_ok "QEMU: host ping over tap" "$(tail_of "$tmp/ping.out") guest: $(tail_of "$tmp/qtap.log")"
	fi
else
	skip "QEMU" "qemu-system-x86_64 is not installed"
fi

finish
