#!/usr/bin/env bash
# Installs the Debian packages kiln needs to build (and, with --test, to run
# its test suites). Packages already installed are not touched, so a repeated
# run is fast and works offline.
set -euo pipefail

usage() {
    echo "usage: $0 [--test]" >&2
    echo "  --test   also install the conformance data and the Python tools used by the tests" >&2
}

with_test=0
for arg in "$@"; do
    case "$arg" in
        --test) with_test=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-deps: unknown option '$arg'" >&2; usage; exit 2 ;;
    esac
done

build_pkgs=(
    build-essential gcc cmake pkg-config
    protobuf-c-compiler libprotobuf-c-dev
    libonnx-dev           # onnx.proto, compiled into protobuf-c code at build time
    libcmocka-dev
    libpthreadpool-dev
    libjpeg62-turbo-dev libpng-dev
    libtiff-dev libwebp-dev libopenjp2-7-dev   # ImageDecoder: TIFF, WebP, JPEG 2000
)
test_pkgs=(
    libonnx-testdata      # /usr/share/libonnx-testdata: ONNX backend test cases
    python3-numpy python3-onnx python3-torch python3-torchvision
    clang                 # ThreadSanitizer build of the concurrency stress test
    libclang-rt-14-dev    # libFuzzer + sanitizer runtimes (tests/fuzz)
    valgrind              # memcheck on the CLI (tests/robustness/valgrind.sh)
)

wanted=("${build_pkgs[@]}")
if [ "$with_test" = 1 ]; then
    wanted+=("${test_pkgs[@]}")
fi

is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for pkg in "${wanted[@]}"; do
    if ! is_installed "$pkg"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#wanted[@]} packages already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
fi

echo "install-deps: missing: ${missing[*]}"
echo "install-deps: apt-get update"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q \
    || { echo "install-deps: apt-get update failed" >&2; exit 1; }
echo "install-deps: apt-get install ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { echo "install-deps: apt-get install failed" >&2; exit 1; }

still_missing=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still_missing+=("$pkg")
done
if [ "${#still_missing[@]}" -ne 0 ]; then
    echo "install-deps: still not installed after apt-get: ${still_missing[*]}" >&2
    exit 1
fi
echo "install-deps: installed ${#missing[@]} package(s)"
