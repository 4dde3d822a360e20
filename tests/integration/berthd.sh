#!/usr/bin/env bash
# berthd against real guests, driven with curl over its Unix socket.
#   tests/integration/berthd.sh [BUILD_DIR]
# - the lifecycle of several VMs: create, start, inspect, pause, resume,
#   stats, console, stop (graceful with burn.elf, which powers off on
#   Ctrl-Alt-Del; forced after the timeout with demo.elf, which ignores it),
#   delete;
# - concurrent requests: 20 creates at once, then lists and deletes;
# - malformed requests: bad JSON, huge bodies, wrong types, unknown fields
#   and routes, wrong methods, raw sockets (half-closed, garbage, oversized
#   headers, slow clients): each answer checked, and berthd still answers;
# - a restart: berthd killed with SIGKILL while VMs run, one VM dies while
#   it is down; the new berthd re-adopts the others (same pids, still
#   controllable) and marks the dead one stopped;
# - the `berth vm` client commands.
# Needs /dev/kvm (skipped without), curl, jq and python3.
set -u
build=${1:-build}
berth=$build/berth
berthd=$build/berthd
demo=$build/guest/demo.elf
hello=$build/guest/hello.elf
burn=$build/guest/burn.elf
passed=0 failed=0 skipped=0
tmp=$(mktemp -d /tmp/berthd-test.XXXXXX)
state=$tmp/state
sock=$tmp/api.sock
dpid=

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
trap berthd_cleanup EXIT

for t in curl jq python3; do
	command -v $t >/dev/null || { not_ok "tools" "$t is not installed"; finish; }
done
if [ ! -x "$berth" ] || [ ! -e "$berthd" ] || [ ! -f "$demo" ]; then
	not_ok "build" "$berth, $berthd or $demo is missing (make)"
	finish
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip "berthd" "no usable /dev/kvm on this machine"
	finish
fi

# expect NAME CODE [FIELD] -- METHOD PATH [BODY]: the status, and for an
# error a JSON {"error"} naming FIELD (if given).
expect() {
	local name=$1 want=$2 field=$3
	shift 4
	api "$@"
	if [ "$code" != "$want" ]; then
		not_ok "$name" "status $code, wanted $want: $(head -c 300 <<<"$body")"
	elif [ "$want" -ge 400 ] && [ -z "$(jf '.error // empty')" ]; then
		not_ok "$name" "no error message: $body"
	elif [ -n "$field" ] && [ "$(jf .field)" != "$field" ]; then
		not_ok "$name" "field '$(jf .field)', wanted '$field': $body"
	else
		ok "$name"
	fi
}

start_daemon() {
	"$berthd" --state-dir "$state" --socket "$sock" --max-memory-mib 1024 \
		--log "$tmp/berthd.log" 2>>"$tmp/berthd.err" &
	dpid=$!
	for _ in $(seq 50); do
		api GET /v1/health
		[ "$code" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# gone PID: the process has exited (a zombie counts: the VMs are not
# berthd's children, and whoever adopts them reaps in its own time).
gone() {
	local st
	for _ in $(seq 20); do
		st=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
		[ -z "$st" ] || [ "$st" = Z ] && return 0
		sleep 0.05
	done
	return 1
}

alive() { kill -0 "$dpid" 2>/dev/null && api GET /v1/health && [ "$code" = 200 ]; }

# create NAME KERNEL [CMDLINE]: a VM with 64 MiB; its id in $id.
create() {
	api POST /v1/vms "{\"name\":\"$1\",\"kernel\":\"$(realpath "$2")\",\"memory_mib\":64,\"cmdline\":\"${3:-}\"}"
	id=$(jf .id)
}

# wait_state KEY STATE: up to 10 s.
wait_state() {
	for _ in $(seq 100); do
		api GET "/v1/vms/$1"
		[ "$(jf .state)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

start_daemon || { not_ok "berthd starts" "$(tail -3 "$tmp/berthd.err")"; finish; }
ok "berthd starts and answers /v1/health"
# berth stays lean: the daemon's and the client's libraries are berthd's.
check "berth does not link libcurl, libmicrohttpd or SQLite" \
	'! ldd "$berth" | grep -Eq "libcurl|libmicrohttpd|libsqlite3"'

# ---- lifecycle -------------------------------------------------------------

create vm-a "$demo"
check "create vm-a: 201, state created" '[ "$code" = 201 ] && [ "$(jf .state)" = created ]' "$code $body"
a=$id
create vm-b "$demo"
b=$id
create vm-c "$hello" "greetings"
c=$id
api GET /v1/vms
check "list: three VMs" '[ "$(jf ".vms | length")" = 3 ]' "$body"

api POST "/v1/vms/vm-a/start"
pid_a=$(jf .pid)
check "start vm-a: running, its pid alive" '[ "$code" = 200 ] && [ "$(jf .state)" = running ] && kill -0 "$pid_a" 2>/dev/null' "$code $body"
api POST "/v1/vms/$b/start"
pid_b=$(jf .pid)
check "start vm-b by id" '[ "$code" = 200 ] && [ "$(jf .state)" = running ]' "$code $body"
expect "start a running VM: 409" 409 "" -- POST "/v1/vms/vm-a/start"

api POST "/v1/vms/vm-c/start"
check "start vm-c (hello, done at once): 200" '[ "$code" = 200 ]' "$code $body"
wait_state vm-c stopped
check "vm-c stopped by itself with status 1 (pass)" '[ "$(jf .exit_status)" = 1 ]' "$body"
api GET "/v1/vms/vm-c/console"
check "vm-c console holds its greeting and command line" 'grep -q "greetings" <<<"$body"' "$body"

api GET "/v1/vms/$a"
check "inspect by id: definition and state" '[ "$(jf .name)" = vm-a ] && [ "$(jf .config.memory_mib)" = 64 ] && [ "$(jf .pid)" = "$pid_a" ] && [ "$(jf .started_at)" != null ]' "$body"

api POST /v1/vms/vm-a/pause
check "pause vm-a" '[ "$code" = 200 ] && [ "$(jf .state)" = paused ]' "$code $body"
expect "pause a paused VM: 409" 409 "" -- POST /v1/vms/vm-a/pause
api GET /v1/vms/vm-a/stats
check "stats of a paused VM" '[ "$code" = 200 ] && [ "$(jf .state)" = paused ] && [ "$(jf .pid)" = "$pid_a" ] && [ "$(jf ".vcpu_threads | length")" = 1 ]' "$code $body"
api POST /v1/vms/vm-a/resume
check "resume vm-a" '[ "$code" = 200 ] && [ "$(jf .state)" = running ]' "$code $body"
expect "resume a running VM: 409" 409 "" -- POST /v1/vms/vm-a/resume

api GET "/v1/vms/vm-a/console?tail=4096"
check "console: the demo's banner" 'grep -q "Hello from inside a berth virtual machine" <<<"$body"' "$(head -c 200 <<<"$body")"
api GET "/v1/vms/vm-a/console?tail=10"
check "console?tail=10: ten bytes" '[ "$(wc -c <"$tmp/body")" = 10 ]' "$(wc -c <"$tmp/body")"

t0=$(date +%s%N)
api POST /v1/vms/vm-b/stop '{"timeout_s": 1}'
ms=$((($(date +%s%N) - t0) / 1000000))
check "stop vm-b (ignores Ctrl-Alt-Del): quit after the 1 s timeout" '[ "$code" = 200 ] && [ "$(jf .state)" = stopped ] && grep -q "did not shut down within 1 s" <<<"$(jf .stop_reason)" && [ "$ms" -ge 900 ] && [ "$ms" -lt 6000 ]' "$code ${ms}ms $body"
check "vm-b's process is gone" 'gone "$pid_b"'

if [ -f "$burn" ]; then
	create vm-g "$burn" "secs=0"
	api POST /v1/vms/vm-g/start
	sleep 1
	t0=$(date +%s%N)
	api POST /v1/vms/vm-g/stop '{"timeout_s": 20}'
	ms=$((($(date +%s%N) - t0) / 1000000))
	check "graceful stop: burn.elf powers off on Ctrl-Alt-Del" '[ "$(jf .state)" = stopped ] && [ "$(jf .exit_status)" = 0 ] && ! grep -q "did not shut down" <<<"$(jf .stop_reason)" && [ "$ms" -lt 15000 ]' "${ms}ms $body"
	expect "delete vm-g" 200 "" -- DELETE /v1/vms/vm-g
else
	skip "graceful stop" "$burn is not built"
fi

expect "delete a running VM without force: 409" 409 "" -- DELETE /v1/vms/vm-a
expect "delete a running VM with ?force=1" 200 "" -- DELETE "/v1/vms/vm-a?force=1"
check "... its process is gone" 'gone "$pid_a"'
check "... and its directory" '[ ! -e "$state/vms/$a" ]'
expect "inspect a deleted VM: 404" 404 "" -- GET "/v1/vms/$a"
expect "stop a stopped VM: 409" 409 "" -- POST /v1/vms/vm-b/stop
api POST /v1/vms/vm-b/start
pid_b=$(jf .pid)
check "start a stopped VM again" '[ "$code" = 200 ] && [ "$(jf .state)" = running ] && [ "$(jf .stop_reason)" = null ]' "$code $body"

# ---- the restart test ---------------------------------------------------------

create vm-d "$demo"
api POST /v1/vms/vm-d/start
pid_d=$(jf .pid)
create vm-e "$demo"
api POST /v1/vms/vm-e/start
pid_e=$(jf .pid)
api POST /v1/vms/vm-d/pause
kill -9 "$dpid"
wait "$dpid" 2>/dev/null
dpid=
check "SIGKILLed berthd leaves its VMs running" 'kill -0 "$pid_b" && kill -0 "$pid_d" && kill -0 "$pid_e"'
kill -9 "$pid_e" # dies while berthd is down
sleep 0.2
start_daemon
check "berthd restarts on the same state directory" '[ "$code" = 200 ]' "$(tail -3 "$tmp/berthd.err")"
api GET /v1/vms/vm-b
check "vm-b still running with the same pid" '[ "$(jf .state)" = running ] && [ "$(jf .pid)" = "$pid_b" ]' "$body"
api GET /v1/vms/vm-d
check "vm-d still paused with the same pid" '[ "$(jf .state)" = paused ] && [ "$(jf .pid)" = "$pid_d" ]' "$body"
api GET /v1/vms/vm-e
check "vm-e, killed meanwhile, is stopped with the reason" '[ "$(jf .state)" = stopped ] && grep -q "died while berthd was down" <<<"$(jf .stop_reason)"' "$body"
check "the log says which VMs were re-adopted" 'grep -q "re-adopted pid $pid_b" "$tmp/berthd.log"'
api POST /v1/vms/vm-d/resume
check "re-adopted vm-d resumes" '[ "$(jf .state)" = running ]' "$code $body"
api POST /v1/vms/vm-b/pause
check "re-adopted vm-b pauses" '[ "$(jf .state)" = paused ]' "$code $body"
api POST /v1/vms/vm-b/stop '{"force": true}'
check "re-adopted vm-b stops" '[ "$(jf .state)" = stopped ] && gone "$pid_b"' "$code $body"
kill -9 "$pid_d"
wait_state vm-d stopped
check "an exit while berthd runs is noticed" '[ "$(jf .state)" = stopped ]' "$body"

# ---- concurrent requests -------------------------------------------------------

k=$(realpath "$demo")
for i in $(seq 20); do
	curl -s -o /dev/null -w '%{http_code}\n' --unix-socket "$sock" -X POST \
		--data-binary "{\"name\":\"par-$i\",\"kernel\":\"$k\",\"memory_mib\":16}" \
		http://berthd/v1/vms >"$tmp/par-$i" &
done
wait_all() { for j in $(jobs -p); do [ "$j" = "$dpid" ] || wait "$j"; done; }
wait_all
check "20 concurrent creates: all 201" '[ "$(cat "$tmp"/par-* | grep -c "^201$")" = 20 ]' "$(cat "$tmp"/par-* | sort | uniq -c | tr '\n' ' ')"
for i in $(seq 20); do
	curl -s -o "$tmp/list-$i" --unix-socket "$sock" http://berthd/v1/vms &
done
wait_all
check "20 concurrent lists agree" '[ "$(for i in $(seq 20); do jq ".vms | length" "$tmp/list-$i"; done | sort -u)" = "$(jq ".vms | length" "$tmp/list-1")" ]'
api POST /v1/vms "{\"name\":\"par-1\",\"kernel\":\"$k\"}"
check "a taken name: 409 naming it" '[ "$code" = 409 ] && [ "$(jf .field)" = name ]' "$code $body"
for i in $(seq 20); do
	curl -s -o /dev/null -w '%{http_code}\n' --unix-socket "$sock" -X DELETE \
		"http://berthd/v1/vms/par-$i" >"$tmp/par-$i" &
done
wait_all
check "20 concurrent deletes: all 200" '[ "$(cat "$tmp"/par-* | grep -c "^200$")" = 20 ]' "$(cat "$tmp"/par-* | sort | uniq -c | tr '\n' ' ')"

# ---- malformed requests ----------------------------------------------------------

expect "bad JSON: 400" 400 "" -- POST /v1/vms '{"kernel": '
expect "trailing garbage: 400" 400 "" -- POST /v1/vms "{\"kernel\":\"$k\"} x"
expect "not an object: 400" 400 "" -- POST /v1/vms '[1,2]'
expect "empty body: 400" 400 "" -- POST /v1/vms ''
expect "missing kernel: 400 naming kernel" 400 kernel -- POST /v1/vms '{}'
expect "kernel file missing: 400" 400 kernel -- POST /v1/vms '{"kernel":"/nonexistent/vmlinuz"}'
expect "0 vCPUs: 400" 400 vcpus -- POST /v1/vms "{\"kernel\":\"$k\",\"vcpus\":0}"
expect "vcpus as a string: 400" 400 vcpus -- POST /v1/vms "{\"kernel\":\"$k\",\"vcpus\":\"2\"}"
expect "memory over --max-memory-mib: 400" 400 memory_mib -- POST /v1/vms "{\"kernel\":\"$k\",\"memory_mib\":2048}"
expect "unknown field: 400 naming it" 400 colour -- POST /v1/vms "{\"kernel\":\"$k\",\"colour\":\"red\"}"
expect "unknown disk field: 400" 400 "disks[0].size" -- POST /v1/vms "{\"kernel\":\"$k\",\"disks\":[{\"path\":\"$k\",\"size\":1}]}"
expect "cpu_weight 0: 400" 400 cpu_weight -- POST /v1/vms "{\"kernel\":\"$k\",\"cpu_weight\":0}"
expect "cpu_cap too big: 400" 400 cpu_cap -- POST /v1/vms "{\"kernel\":\"$k\",\"cpu_cap\":1000}"
expect "bad MAC: 400" 400 "nics[0].mac" -- POST /v1/vms "{\"kernel\":\"$k\",\"nics\":[{\"tap\":\"t0\",\"mac\":\"ff:ff:ff:ff:ff:ff\"}]}"
expect "unknown route: 404" 404 "" -- GET /v1/nothing
expect "unknown VM: 404" 404 "" -- GET /v1/vms/nosuchvm
expect "unknown action: 404" 404 "" -- POST /v1/vms/vm-b/reboot
expect "wrong method: 405" 405 "" -- PUT /v1/vms
check "405 says which methods are allowed" 'curl -s -i --unix-socket "$sock" -X PATCH http://berthd/v1/vms/vm-b | grep -qi "^Allow: GET, DELETE"'
expect "unknown query parameter: 400" 400 verbose -- GET "/v1/vms?verbose=1"
expect "bad tail: 400" 400 tail -- GET "/v1/vms/vm-b/console?tail=-1"
expect "bad force: 400" 400 force -- DELETE "/v1/vms/vm-b?force=maybe"
expect "stop with a wrong type: 400" 400 timeout_s -- POST /v1/vms/vm-b/stop '{"timeout_s":"10"}'
expect "stop with an unknown field: 400" 400 now -- POST /v1/vms/vm-b/stop '{"now":true}'
expect "start with a body field: 400" 400 vcpus -- POST /v1/vms/vm-b/start '{"vcpus":2}'
expect "stats of a stopped VM: 409" 409 "" -- GET /v1/vms/vm-b/stats
head -c 100000 /dev/zero | tr '\0' ' ' >"$tmp/big"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' --unix-socket "$sock" -X POST --data-binary @"$tmp/big" http://berthd/v1/vms)
check "100 KB body: 413" '[ "$code" = 413 ] && jq -e .error "$tmp/body" >/dev/null' "$code"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' --unix-socket "$sock" -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big" http://berthd/v1/vms)
check "100 KB chunked body: 413" '[ "$code" = 413 ]' "$code"

# Raw sockets: what curl will not send.
python3 - "$sock" >"$tmp/raw" 2>&1 <<'PY'
import socket, sys, time
path = sys.argv[1]

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(15)
    s.connect(path)
    return s

def reply(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return data + b"<timeout>"
        except ConnectionResetError:
            return data + b"<reset>"
        if not chunk:
            return data
        data += chunk

def status(data):
    parts = data.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 and data.startswith(b"HTTP/") else "none"

# A whole request, then the write side shut: still answered.
s = conn(); s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
s.shutdown(socket.SHUT_WR); print("halfclosed-full", status(reply(s)))
# Half a request, then shut: no answer needed, no crash.
s = conn(); s.sendall(b"POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Le")
s.shutdown(socket.SHUT_WR); print("halfclosed-partial", status(reply(s)))
# A body shorter than its Content-Length, then shut.
s = conn(); s.sendall(b"POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ker")
s.shutdown(socket.SHUT_WR); print("short-body", status(reply(s)))
# Garbage instead of HTTP.
s = conn(); s.sendall(b"\x00\xff\x13garbage\r\n\r\n"); print("garbage", status(reply(s)))
# Headers bigger than the connection's memory limit.
s = conn(); s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 60000 + b"\r\n\r\n")
print("bigheader", status(reply(s)))
# Slow clients (slowloris) hold their own threads only: the API answers.
slow = [conn() for _ in range(8)]
for c in slow:
    c.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
t = time.time()
s = conn(); s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print("during-slowloris", status(reply(s)), "%.2f" % (time.time() - t))
for c in slow:
    c.close()
# Many connections at once, most closed abruptly.
for _ in range(50):
    c = conn(); c.sendall(b"GET /v1/vms HTTP/1.1\r\n"); c.close()
s = conn(); s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print("after-abrupt", status(reply(s)))
PY
raw() { sed -n "s/^$1 //p" "$tmp/raw"; }
check "half-closed after a whole request: answered 200" '[ "$(raw halfclosed-full)" = 200 ]' "$(cat "$tmp/raw")"
check "half-closed mid-headers: closed, no answer" '[ "$(raw halfclosed-partial)" = none ]' "$(cat "$tmp/raw")"
check "body shorter than Content-Length: closed" '[ "$(raw short-body)" = none ]' "$(cat "$tmp/raw")"
check "garbage: 400 or closed" 'grep -Eq "^garbage (400|none)$" "$tmp/raw"' "$(cat "$tmp/raw")"
check "oversized headers refused" 'grep -Eq "^bigheader (431|413|400|none)$" "$tmp/raw"' "$(cat "$tmp/raw")"
check "slow clients do not block others" 'raw during-slowloris | grep -Eq "^200 [0-2]\."' "$(cat "$tmp/raw")"
check "50 abrupt connections: still answering" '[ "$(raw after-abrupt)" = 200 ]' "$(cat "$tmp/raw")"
check "berthd survived every malformed request" 'alive'

# ---- the client ------------------------------------------------------------------

export BERTH_SOCKET=$sock
id=$("$berth" vm create --kernel "$demo" --name cli-1 --mem 32M --cpus 1 --start 2>"$tmp/cli.err")
check "berth vm create --start prints the id" '[ ${#id} = 12 ]' "$id $(cat "$tmp/cli.err")"
check "berth vm ls: a table with cli-1 running" '"$berth" vm ls | grep -Eq "^$id +cli-1 +running"' "$("$berth" vm ls 2>&1)"
check "berth vm ls -q: ids" '"$berth" vm ls -q | grep -qx "$id"'
check "berth vm inspect: JSON" '[ "$("$berth" vm inspect cli-1 | jq -r .config.memory_mib)" = 32 ]'
check "berth vm pause" '[ "$("$berth" vm pause cli-1)" = "$id paused" ]'
check "berth vm resume" '[ "$("$berth" vm resume cli-1)" = "$id running" ]'
check "berth vm stats" '"$berth" vm stats cli-1 | jq -e .rss_bytes >/dev/null'
check "berth vm logs" '"$berth" vm logs cli-1 | grep -q "Hello from inside"'
check "berth vm stop --force" '[ "$("$berth" vm stop cli-1 --force)" = "$id stopped" ]'
check "berth vm rm" '[ "$("$berth" vm rm cli-1)" = "$id" ]'
"$berth" vm inspect cli-1 2>"$tmp/cli.err"
rc=$?
check "berth vm inspect of a missing VM: exit 2, one line" '[ $rc = 2 ] && [ "$(wc -l <"$tmp/cli.err")" = 1 ]' "rc $rc: $(cat "$tmp/cli.err")"
"$berth" vm create --kernel "$demo" --cpus 0 2>"$tmp/cli.err" >/dev/null
rc=$?
check "berth vm create --cpus 0: exit 2 naming vcpus" '[ $rc = 2 ] && grep -q vcpus "$tmp/cli.err"' "rc $rc: $(cat "$tmp/cli.err")"
"$berth" vm ls --socket "$tmp/nobody.sock" 2>"$tmp/cli.err"
rc=$?
check "no berthd: exit 6" '[ $rc = 6 ] && grep -q "no berthd" "$tmp/cli.err"' "rc $rc: $(cat "$tmp/cli.err")"
unset BERTH_SOCKET

# ---- shutdown ------------------------------------------------------------------

kill -TERM "$dpid"
wait "$dpid"
rc=$?
dpid=
check "SIGTERM: berthd exits 0 and removes its socket" '[ $rc = 0 ] && [ ! -e "$sock" ]' "rc $rc"
check "no error lines in berthd's log" '! grep -q "error:" "$tmp/berthd.log"' "$(grep "error:" "$tmp/berthd.log" | head -3)"
finish
