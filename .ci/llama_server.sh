#!/usr/bin/env bash
# Build llama.cpp's own `llama-server` from the llama.cpp tree that llama-cpp-python's source package vendors, once:
# the binary is cached outside the clone, keyed by the package version, and later runs only print its path.
#
#   .ci/llama_server.sh            -> prints the path of the llama-server binary (building it if needed)
#
# Environment: LLAMA_CPP_PYTHON_VERSION (default 0.3.36, the version in constraints.txt),
# SCRIBE_LLAMA_SERVER_CACHE (default ~/.cache/scribe/llama-server), PYTHON (default python3), JOBS (default nproc).
# The tests read SCRIBE_LLAMA_SERVER (the binary's path); CI sets it to this script's output.
set -euo pipefail

version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
cache="${SCRIBE_LLAMA_SERVER_CACHE:-$HOME/.cache/scribe/llama-server}/$version"
binary="$cache/llama-server"
if [[ -x "$binary" ]]; then
    echo "$binary"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"${PYTHON:-python3}" -m pip download --quiet --no-deps --no-binary=:all: -d "$work" "llama-cpp-python==$version" >&2
tar xzf "$work"/llama_cpp_python-"$version".tar.gz -C "$work"
source="$work/llama_cpp_python-$version/vendor/llama.cpp"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S "$source" -B "$work/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=OFF >&2
cmake --build "$work/build" --target llama-server -j "${JOBS:-$(nproc)}" >&2
mkdir -p "$cache"
cp "$work/build/bin/llama-server" "$binary.tmp"
mv "$binary.tmp" "$binary"
echo "$binary"
