#!/bin/sh
# build_heat.sh DIR SRC BUILD - the example simulation as a user builds it:
# libzc installed into DIR/prefix, examples/heat copied to DIR/heat and built
# there with mpicc and pkg-config (zc-mpi), nothing from the build tree.
# Prints the library folder the binary DIR/heat/heat needs on
# LD_LIBRARY_PATH.
set -eu
dir=$1
src=$2
build=$3
fail() { echo "build_heat: $*" >&2; exit 1; }
cmake --install "$build" --prefix "$dir/prefix" > /dev/null || fail "cmake --install failed"
libdir=$(dirname "$(find "$dir/prefix" -name zc-mpi.pc | head -n 1)")
cp -r "$src/examples/heat" "$dir/heat"
PKG_CONFIG_PATH=$libdir make -s -C "$dir/heat" > "$dir/build.log" 2>&1 ||
    fail "the example does not build against the installed library: $(cat "$dir/build.log")"
dirname "$libdir"
