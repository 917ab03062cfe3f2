#!/bin/sh
# Installs the build into a scratch prefix and uses it as a user would,
# through pkg-config alone:
#  - every source header is installed, and each one compiles alone as C
#    (cc) and as C++ (c++): zc.pc's flags for most, zc-mpi.pc's for the
#    headers that include <mpi.h>;
#  - zc.pc names no MPI, and a ring program builds with zc.pc alone;
#  - a C and a C++ program that reference every function libzc exports,
#    through the headers, link and run (C++ needs the extern "C" blocks);
#  - an MPI program links with zc-mpi.pc;
#  - the installed library and command agree on the version.
set -eu
build=$1
cc=$2
src=$3
cxx=c++
dir=$(mktemp -d "${TMPDIR:-/tmp}/zc-install.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "install: $*" >&2; exit 1; }
cmake --install "$build" --prefix "$dir/prefix" >/dev/null
# The prefix moves: zc.pc must not name where it was installed.
mv "$dir/prefix" "$dir/moved"
inc=$dir/moved/include/zc
lib=$(dirname "$(find "$dir/moved" -name 'libzc.so' | head -n 1)")
PKG_CONFIG_PATH=$(dirname "$(find "$dir/moved" -name zc.pc)")
export PKG_CONFIG_PATH
zc_flags=$(pkg-config --cflags --libs zc) || fail "no usable zc.pc"
mpi_flags=$(pkg-config --cflags --libs zc-mpi) || fail "no usable zc-mpi.pc"
# Open MPI's <mpi.h> brings its C++ bindings into C++ code, which link
# with mpi-cxx (README: Using libzc).
mpi_cxx_flags=$(pkg-config --cflags --libs zc-mpi mpi-cxx) || fail "no mpi-cxx.pc"
# C++ leaves out -Wextra: Open MPI's C++ bindings trip it.
cflags="-Wall -Wextra -Werror"
cxxflags="-Wall -Werror"

case "$(pkg-config --print-requires --print-requires-private zc) $zc_flags" in
*mpi*) fail "zc.pc pulls in MPI: $zc_flags" ;;
esac

[ "$(cd "$src/include/zc" && ls ./*.h)" = "$(cd "$inc" && ls ./*.h)" ] ||
    fail "installed headers differ from include/zc"

# Each header alone, in both languages.
nh=0
for h in "$inc"/*.h; do
    name=zc/$(basename "$h")
    nh=$((nh + 1))
    if grep -q '^#include <mpi.h>' "$h"; then
        cflags_h=$mpi_flags
        cxxflags_h=$mpi_cxx_flags
    else
        cflags_h=$zc_flags
        cxxflags_h=$zc_flags
    fi
    printf '#include <%s>\nint main(void) { return 0; }\n' "$name" > "$dir/one.c"
    cp "$dir/one.c" "$dir/one.cpp"
    # shellcheck disable=SC2086
    "$cc" $cflags "$dir/one.c" $cflags_h -o "$dir/one" || fail "$name does not compile as C"
    # shellcheck disable=SC2086
    "$cxx" $cxxflags "$dir/one.cpp" $cxxflags_h -o "$dir/one" || fail "$name does not compile as C++"
done

# The ring alone: zc.pc, no MPI flags.
cat > "$dir/ring.c" <<'C'
#include <zc/base.h>
#include <zc/ring.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    printf("%s\n", zc_version());
    if (zc_ring_mem_size(256) == 0)
        return 1;
    return strcmp(zc_strerror(-EBADMSG), "authentication failed (bad tag or tampered data)") != 0;
}
C
# shellcheck disable=SC2086
"$cc" $cflags "$dir/ring.c" $zc_flags -o "$dir/ring" || fail "a ring program needs more than zc.pc"
out=$(LD_LIBRARY_PATH=$lib "$dir/ring")
[ "$out" = "$("$dir/moved/bin/zc" --version | sed 's/^zc //')" ] ||
    fail "installed library says '$out', installed command disagrees"

# Every exported function, named through the headers from C and from C++.
# Without extern "C" the C++ references are mangled and do not link.
syms=$(nm -D --defined-only "$lib/libzc.so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }')
[ -n "$syms" ] || fail "libzc.so exports no functions"
{
    for h in "$inc"/*.h; do echo "#include <zc/$(basename "$h")>"; done
    echo '#include <stdio.h>'
    echo 'typedef void (*fn)(void);'
    echo 'static const fn all[] = {'
    for s in $syms; do echo "    (fn)&$s,"; done
    echo '};'
    printf '%s\n' 'int main(void) { printf("%zu\n", sizeof all / sizeof all[0]); return 0; }'
} > "$dir/all.c"
cp "$dir/all.c" "$dir/all.cpp"
# shellcheck disable=SC2086
"$cc" $cflags "$dir/all.c" $mpi_flags -o "$dir/all-c" || fail "the C program does not build"
# shellcheck disable=SC2086
"$cxx" $cxxflags "$dir/all.cpp" $mpi_cxx_flags -o "$dir/all-cxx" || fail "the C++ program does not build"
n=$(echo "$syms" | wc -l)
for prog in all-c all-cxx; do
    [ "$(LD_LIBRARY_PATH=$lib "$dir/$prog")" = "$n" ] || fail "$prog does not see $n functions"
done

# An MPI program: zc-mpi.pc gives <mpi.h> and libmpi.
cat > "$dir/mpi.c" <<'C'
#include <zc/sim.h>
int main(int argc, char **argv)
{
    struct zc_sim_config cfg;
    struct zc_sim *sim = NULL;
    MPI_Init(&argc, &argv);
    zc_sim_config_default(&cfg, 8);
    int err = zc_sim_create(MPI_COMM_WORLD, &cfg, &sim);
    zc_sim_destroy(sim);
    MPI_Finalize();
    return err != 0;
}
C
# shellcheck disable=SC2086
"$cc" $cflags "$dir/mpi.c" $mpi_flags -o "$dir/mpi" || fail "an MPI program does not build with zc-mpi.pc"
echo "install: ok ($out; $nh headers as C and C++, $n functions from C and C++)"
