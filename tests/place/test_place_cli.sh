#!/bin/sh
# test_place_cli.sh ZC - the commands as users and scripts call them: keygen,
# serve, put (files, trees, renames, --json, --integrity-only), get; exit
# codes 0 / 1 (refused key, failed job, interrupted) / 2 (usage, bad DEST);
# errors that name the file and the fix; --json on failure.
set -eu
ZC=$1
DIR=$(mktemp -d "${TMPDIR:-/tmp}/zc-place-cli.XXXXXX")
SERVER_PID= BUSY_PID= HOLD_PID=
cleanup() {
    set +e
    for pid in $HOLD_PID $BUSY_PID $SERVER_PID; do
        kill -CONT "$pid" 2>/dev/null
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# The last line of FILE is JSON with "error" (a message) and "errno" = N.
json_error() {
    tail -n 1 "$1" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d["error"], str) and d["error"] and d["errno"]==int(sys.argv[1]), d' "$2"
}
# Waits for the port "serve" logged in FILE and prints it.
port_of() {
    for _ in $(seq 50); do grep -q listening "$1" && break; sleep 0.1; done
    sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$1"
}
# Waits until a name holding $2 appears in the directory $1 (a transfer is under way).
wait_for_name() {
    for _ in $(seq 200); do ls -a "$1" | grep -q "$2" && return 0; sleep 0.05; done
    return 1
}
cd "$DIR"

"$ZC" keygen -o server >/dev/null
"$ZC" keygen -o client >/dev/null
"$ZC" keygen -o stranger >/dev/null
cp client.pub authorized.pub
mkdir root src src/tree src/tree/sub back
head -c 3000000 /dev/urandom >src/file.bin
echo one >src/tree/a
echo two >src/tree/sub/b
chmod 0640 src/tree/a

"$ZC" serve --root root --listen 127.0.0.1:0 --key server.key --authorized authorized.pub \
    --timeout 5 2>serve.log &
SERVER_PID=$!
PORT=$(port_of serve.log)
[ -n "$PORT" ] || fail "serve did not say where it listens"
PUT="$ZC put -q --key client.key --server-pub server.pub"

$PUT src/file.bin src/tree "127.0.0.1:$PORT" || fail "put"
cmp src/file.bin root/file.bin || fail "file differs"
cmp src/tree/sub/b root/tree/sub/b || fail "tree differs"
[ "$(stat -c %a root/tree/a)" = 640 ] || fail "mode not kept"
[ "$(stat -c %Y src/file.bin)" = "$(stat -c %Y root/file.bin)" ] || fail "mtime not kept"

$PUT src/file.bin src/tree/a "127.0.0.1:$PORT:several" || fail "put several into DEST"
cmp src/tree/a root/several/a || fail "several sources: DEST is a directory"
$PUT --integrity-only --json src/file.bin "127.0.0.1:$PORT:renamed.bin" >out.json || fail "put rename"
cmp src/file.bin root/renamed.bin || fail "renamed file differs"
tail -n 1 out.json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["files"]==1 and d["bytes"]==3000000 and d["mode"]=="integrity-only"' ||
    fail "--json summary"

# Integrity-only payloads by sendfile and from the MAC's buffer (auto picks
# the buffer on loopback): the same bytes either way.
for how in always never; do
    $PUT --integrity-only --sendfile $how src/file.bin "127.0.0.1:$PORT:sf-$how.bin" ||
        fail "put --sendfile $how"
    cmp src/file.bin "root/sf-$how.bin" || fail "--sendfile $how: file differs"
done

"$ZC" get -q --key client.key --server-pub server.pub "127.0.0.1:$PORT:tree" back || fail "get"
cmp src/tree/a back/tree/a || fail "get differs"
"$ZC" get -q --resume --json --key client.key --server-pub server.pub "127.0.0.1:$PORT:tree" back \
    >get.json || fail "get --resume"
tail -n 1 get.json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["resumed_bytes"]>0' ||
    fail "get --resume: the files already there were sent again"

set +e
"$ZC" put -q --key stranger.key --server-pub server.pub src/file.bin "127.0.0.1:$PORT:x" 2>err.txt
[ $? = 1 ] || fail "unauthorized key: want exit 1"
grep -q "the server refused our key: add stranger.pub's line to the server's --authorized file" \
    err.txt || fail "unauthorized key: no clear message"
$PUT src/file.bin "127.0.0.1:$PORT:../escape" 2>err.txt
[ $? = 2 ] || fail "path traversal: want exit 2"
grep -q "DEST may not contain '..'" err.txt || fail "path traversal: no clear message"
[ ! -e escape ] || fail "path traversal wrote outside the root"
$PUT src/file.bin "127.0.0.1:$PORT:/abs" 2>err.txt
[ $? = 2 ] || fail "absolute DEST: want exit 2"
grep -q "DEST must be relative" err.txt || fail "absolute DEST: no clear message"
"$ZC" get -q --key client.key --server-pub server.pub "127.0.0.1:$PORT:../x" back 2>err.txt
[ $? = 2 ] || fail "get of ../x: want exit 2"
grep -q "SRC may not contain '..'" err.txt || fail "get of ../x: no clear message"

# Key files: each error names the file and the fix.
cp client.key loose.key
chmod 644 loose.key
echo "not a key" >garbage.key
chmod 600 garbage.key
for case in "loose.key:loose.key is readable by others: chmod 600 loose.key" \
    "client.pub:client.pub is a public key: give the .key" \
    "garbage.key:garbage.key is not a zc key file (expected a line 'zc-x25519-private ...')"; do
    "$ZC" put -q --key "${case%%:*}" --server-pub server.pub src/tree/a "127.0.0.1:$PORT" 2>err.txt
    [ $? = 1 ] || fail "--key ${case%%:*}: want exit 1"
    grep -qF "${case#*:}" err.txt || fail "--key ${case%%:*}: want '${case#*:}', got: $(cat err.txt)"
done

# --json on failure: a last line with the message and the errno (EACCES, ENOENT).
"$ZC" put -q --json --key stranger.key --server-pub server.pub src/tree/a "127.0.0.1:$PORT" \
    >out.json 2>/dev/null
[ $? = 1 ] || fail "put --json, refused key: want exit 1"
json_error out.json 13 || fail "put --json: no error object on failure"
"$ZC" get -q --json --key client.key --server-pub server.pub "127.0.0.1:$PORT:no-such" back \
    >out.json 2>/dev/null
[ $? = 1 ] || fail "get --json, missing file: want exit 1"
json_error out.json 2 || fail "get --json: no error object on failure"

# Usage errors: one line with the command's prefix, no getopt line of its own.
for cmd in put get serve; do
    "$ZC" $cmd --bogus 2>err.txt
    [ $? = 2 ] || fail "$cmd --bogus: want exit 2"
    [ "$(head -n 1 err.txt)" = "zc $cmd: unknown option '--bogus'" ] ||
        fail "$cmd --bogus: want one prefixed line, got: $(cat err.txt)"
    [ "$(grep -vc "^Try 'zc $cmd --help'.\$" err.txt)" = 1 ] || fail "$cmd --bogus: extra lines: $(cat err.txt)"
done
$PUT --streams 4 --resume src/file.bin "127.0.0.1:$PORT:x" 2>err.txt
[ $? = 2 ] || fail "--streams 4 --resume: want exit 2 (the help says 'not with --resume')"
$PUT src/file.bin 2>/dev/null
[ $? = 2 ] || fail "missing destination: want exit 2"
"$ZC" get -q --key client.key --server-pub server.pub "127.0.0.1:$PORT:no-such" back 2>err.txt
[ $? = 1 ] || fail "get of a missing file: want exit 1"
grep -q "no-such" err.txt || fail "get of a missing file: no clear message"
"$ZC" serve --root no-such-dir --listen 127.0.0.1:0 --key server.key \
    --authorized authorized.pub 2>/dev/null
[ $? = 1 ] || fail "serve with a missing root: want exit 1"
"$ZC" serve --root root 2>/dev/null
[ $? = 2 ] || fail "serve without --listen: want exit 2"
$PUT --sendfile sometimes src/file.bin "127.0.0.1:$PORT:x" 2>err.txt
[ $? = 2 ] || fail "--sendfile sometimes: want exit 2"
grep -q "auto, always or never" err.txt || fail "--sendfile sometimes: no clear message"
"$ZC" put --help >/dev/null || fail "put --help"

# ^C during a put: one line, exit 1 (the put is stopped first so that it is
# surely under way; the signal is its default one, as in a terminal).
truncate -s 3G big.bin
env --default-signal=INT $PUT --streams 1 --json big.bin "127.0.0.1:$PORT:big-int" >int.json 2>err.txt &
HOLD_PID=$!
wait_for_name root big-int || fail "the interrupted put never started"
kill -STOP $HOLD_PID
kill -INT $HOLD_PID
kill -CONT $HOLD_PID
wait $HOLD_PID
[ $? = 1 ] || fail "kill -INT during put: want exit 1"
HOLD_PID=
grep -q "zc put: interrupted" err.txt || fail "kill -INT during put: no clear message"
json_error int.json 4 || fail "kill -INT during put --json: no error object"

# An existing file is kept unless --force (the placer's keep_existing).
"$ZC" get -q --key client.key --server-pub server.pub "127.0.0.1:$PORT:tree" back 2>err.txt
[ $? = 1 ] || fail "get over existing files: want exit 1"
grep -q -- "--force" err.txt || fail "get over existing files: no hint of --force: $(cat err.txt)"
"$ZC" get -q --force --key client.key --server-pub server.pub "127.0.0.1:$PORT:tree" back ||
    fail "get --force"

# The wrong --server-pub is the client's fault, not the server's list.
$PUT --server-pub stranger.pub src/tree/a "127.0.0.1:$PORT" 2>err.txt
[ $? = 1 ] || fail "wrong --server-pub: want exit 1"
grep -qF "the server did not prove it holds stranger.pub's key (is --server-pub this server's key?)" \
    err.txt || fail "wrong --server-pub: want a message pointing at --server-pub, got: $(cat err.txt)"

# A server at its session limit says so, and blames no key.
"$ZC" serve --root root --listen 127.0.0.1:0 --key server.key --authorized authorized.pub \
    --max-sessions 1 --timeout 30 2>busy.log &
BUSY_PID=$!
BUSY_PORT=$(port_of busy.log)
[ -n "$BUSY_PORT" ] || fail "the second serve did not say where it listens"
$PUT --streams 1 big.bin "127.0.0.1:$BUSY_PORT:big-busy" 2>/dev/null &
HOLD_PID=$!
wait_for_name root big-busy || fail "the session holding the server never started"
kill -STOP $HOLD_PID
$PUT src/tree/a "127.0.0.1:$BUSY_PORT" 2>err.txt
[ $? = 1 ] || fail "server at its session limit: want exit 1"
grep -qF "the server is at its session limit; try again later" err.txt ||
    fail "server at its session limit: no clear message, got: $(cat err.txt)"
set -e
# (The interrupted puts keep what they sent for --resume.)
ls -a root | grep '^\.zc-' | grep -qv big- && fail "temporary files left in the root"
echo "ok"
