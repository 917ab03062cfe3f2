#!/bin/sh
# Installs the build into a scratch prefix and builds a program against it
# through pkg-config alone: headers found, libzc linked, the command runs.
set -eu
build=$1
cc=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/zc-install.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cmake --install "$build" --prefix "$dir/prefix" >/dev/null
# The prefix moves: zc.pc must not name where it was installed.
mv "$dir/prefix" "$dir/moved"
pc=$(dirname "$(find "$dir/moved" -name zc.pc)")
cat > "$dir/use.c" <<'C'
#include <zc/base.h>
#include <zc/ring.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    printf("%s\n", zc_version());
    return strcmp(zc_strerror(-EBADMSG), "authentication failed (bad tag or tampered data)") != 0;
}
C
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs zc)
# shellcheck disable=SC2086
"$cc" "$dir/use.c" $flags -o "$dir/use"
out=$(LD_LIBRARY_PATH=$(dirname "$(find "$dir/moved" -name 'libzc.so' | head -n 1)") "$dir/use")
[ "$out" = "$("$dir/moved/bin/zc" --version | sed 's/^zc //')" ] || {
    echo "installed library says '$out', installed command disagrees" >&2
    exit 1
}
for h in base shm ring crypto seal place stream fb vol sim composite; do
    [ -f "$dir/moved/include/zc/$h.h" ] || { echo "missing include/zc/$h.h" >&2; exit 1; }
done
echo "install: ok ($out)"
