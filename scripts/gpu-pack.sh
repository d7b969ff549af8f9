#!/usr/bin/env bash
# Build strixcore here (Debian 12) and pack what the GPU check needs into
# .gpu/ (ignored by git): the CLI, backend-ops, test_fixtures, every plugin, the
# HIP kernel sources (nvcc builds them there),
# the shared libraries the GPU machine's image lacks, and scripts/gpu-check.sh.
# The GPU machine (the `device` tool: an Ubuntu 24.04 image with NVIDIA's
# driver, glibc newer than Debian 12's) then runs `.gpu/gpu-check.sh` with
# `.gpu` (and `.gl`, the Vulkan loader packages) carried; nothing is built there.
#   scripts/gpu-pack.sh [BUILD_DIR]      (default build-gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-gpu}
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRIXCORE_WERROR=ON >/dev/null
cmake --build "$B"
rm -rf .gpu
mkdir -p .gpu/bin .gpu/plugins .gpu/lib
cp "$B/cli/strixcore" "$B/tests/backend-ops/backend-ops" "$B/tests/fixtures/test_fixtures" .gpu/bin/
cp "$B"/plugins/*.so .gpu/plugins/
# the HIP backend: its emulator library, and the kernel sources that
# gpu-check.sh compiles with nvcc on the GPU machine (plugins/hip/nvidia/)
if [ -d "$B/plugins/hip" ]; then mkdir -p .gpu/plugins/hip && cp "$B"/plugins/hip/*.so .gpu/plugins/hip/ 2>/dev/null || true; fi
mkdir -p .gpu/kernels && cp kernels/*.hip kernels/*.h .gpu/kernels/
cp -L "$B"/core/libstrixcore.so.0 .gpu/lib/   # the CLI links the shared library
# libraries the image lacks (it has glibc, libstdc++, jansson and pcre2)
for l in libuv.so.1 libutf8proc.so.2 libhttp_parser.so.2.9 libcmocka.so.0 libjansson.so.4 libpcre2-8.so.0; do
  p=$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64/ {print $NF; exit}')
  [ -n "$p" ] && cp -L "$p" .gpu/lib/
done
cp -r tests/fixtures/qwen3 tests/fixtures/quant tests/fixtures/qwen3next .gpu/ 2>/dev/null || true
mkdir -p .gpu/fixtures && mv .gpu/qwen3 .gpu/quant .gpu/qwen3next .gpu/fixtures/
cp scripts/gpu-check.sh scripts/gpu-tune-check.sh scripts/serve-check.py .gpu/
mkdir -p .gpu/tiny   # run/serve on the tiny fixture: the CLI tests' tokenizer and template
cp tests/cli/tiny-tokenizer.json .gpu/tiny/tokenizer.json
cp tests/cli/tiny-chat-template.jinja .gpu/tiny/template.jinja
grep -q '^/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >>.git/info/exclude
du -sh .gpu
