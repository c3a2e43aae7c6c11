#!/usr/bin/env bash
# cmake --install into a temporary prefix, check what landed there, then
# build a tiny consumer against the installed copy both ways (pkg-config +
# cc, shared and static; a CMake project with find_package(kiln)) and run it,
# plus examples/embed.c.
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
src="$(cd "$2" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
model="$src/tests/data/external_data/model.onnx"
# y = x + w, x[i] = i - 16, w[i] = i / 8 (external data), i < 64: sum 992 + 252
expect="sum 1244.0"

fail() { echo "test_install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install failed"; }

libdir=$(dirname "$(find "$prefix" -name 'libkiln.so.0' | head -n 1)")
[ -d "$libdir" ] || fail "libkiln.so.0 not installed"
for f in "$prefix/include/kiln.h" "$prefix/bin/kiln" "$libdir/libkiln.a" "$libdir/libkiln.so" \
         "$libdir/pkgconfig/kiln.pc" "$libdir/cmake/kiln/kilnConfig.cmake" \
         "$libdir/cmake/kiln/kilnConfigVersion.cmake"; do
    [ -e "$f" ] || fail "missing $f"
done
[ -L "$libdir/libkiln.so" ] || fail "libkiln.so is not a symlink to the versioned library"
soname=$(objdump -p "$libdir/libkiln.so" | awk '/SONAME/ {print $2}')
[ "$soname" = "libkiln.so.0" ] || fail "SONAME is '$soname', expected libkiln.so.0"
"$prefix/bin/kiln" --version >/dev/null || fail "installed kiln binary does not run"

check_run() { # name command...
    local name="$1"
    shift
    local out
    out=$("$@") || fail "$name: exit status $?"
    case "$out" in *"$expect"*) echo "$name: $out" ;; *) fail "$name printed '$out', expected '$expect'" ;; esac
}

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc="${CC:-cc}"
cflags=$(pkg-config --cflags kiln)
# shared, via pkg-config
$cc -std=c11 -Wall -Werror -o "$work/c_shared" "$src/tests/install/consumer/consumer.c" $cflags \
    $(pkg-config --libs kiln) -Wl,-rpath,"$libdir" || fail "pkg-config shared build failed"
check_run "pkg-config shared" "$work/c_shared" "$model"
# ldd's output is captured first: with pipefail, grep -q closing the pipe
# early can fail the pipeline by SIGPIPE.
deps=$(ldd "$work/c_shared")
grep -qF "$libdir/libkiln.so.0" <<<"$deps" || fail "c_shared does not use the installed libkiln.so.0"
# static, via pkg-config --static (the archive named explicitly: -lkiln
# would pick the shared library)
$cc -std=c11 -Wall -Werror -o "$work/c_static" "$src/tests/install/consumer/consumer.c" $cflags \
    "$libdir/libkiln.a" $(pkg-config --static --libs kiln | sed 's/-lkiln\b//') || fail "pkg-config static build failed"
check_run "pkg-config static" "$work/c_static" "$model"
deps=$(ldd "$work/c_static" || true)
if grep -q libkiln <<<"$deps"; then fail "c_static links libkiln dynamically"; fi

# CMake, find_package(kiln)
cmake -S "$src/tests/install/consumer" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "consumer configure failed"; }
cmake --build "$work/cmake-build" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "consumer build failed"; }
check_run "find_package kiln::kiln" "$work/cmake-build/consumer_shared" "$model"
check_run "find_package kiln::kiln_static" "$work/cmake-build/consumer_static" "$model"

# examples/embed.c against the installed copy
$cc -std=c11 -D_GNU_SOURCE -Wall -Werror -o "$work/embed" "$src/examples/embed.c" $cflags \
    $(pkg-config --libs kiln) -lpthread -Wl,-rpath,"$libdir" || fail "building examples/embed.c failed"
out=$("$work/embed" "$src/models/tiny_cnn/model.onnx" 3 4) || fail "embed failed"
[ "$(printf '%s\n' "$out" | grep -c '^worker .* request .*: .* ms$')" -eq 12 ] || fail "embed printed: $out"
printf '%s\n' "$out" | tail -n 1
echo "test_install: all consumers built and ran"
