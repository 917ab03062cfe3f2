#!/bin/sh
# test_place_cli.sh ZC - the commands as users and scripts call them: keygen,
# serve, put (files, trees, renames, --json, --integrity-only), get; exit
# codes 0 / 1 (refused key, refused path) / 2 (usage).
set -eu
ZC=$1
DIR=$(mktemp -d "${TMPDIR:-/tmp}/zc-place-cli.XXXXXX")
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
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
for _ in $(seq 50); do grep -q listening serve.log && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' serve.log)
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
grep -q "refused our key" err.txt || fail "unauthorized key: no clear message"
$PUT src/file.bin "127.0.0.1:$PORT:../escape" 2>err.txt
[ $? = 1 ] || fail "path traversal: want exit 1"
[ ! -e escape ] || fail "path traversal wrote outside the root"
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
set -e
ls -a root | grep -q '^\.zc-' && fail "temporary files left in the root"
echo "ok"
