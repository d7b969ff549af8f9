#!/bin/sh
# backends/vulkan/test-vulkan.sh BACKEND_OPS [ARGS...]
# Runs `backend-ops ARGS -b <the first Vulkan device>`. The core names a lone
# device after its backend ("vulkan") and several "vulkan0", "vulkan1", ...,
# so both are tried. Exit 77 (ctest: skipped) when there is no Vulkan device
# (no loader, no driver: e.g. mesa-vulkan-drivers not installed).
bo="$1"
shift
for dev in vulkan0 vulkan; do
  out=$("$bo" "$@" -b "$dev" 2>&1)
  rc=$?
  case "$out" in
  *"no device named '$dev'"*) continue ;;
  esac
  printf '%s\n' "$out"
  exit $rc
done
echo "no Vulkan device (lavapipe: apt install mesa-vulkan-drivers): skipped"
exit 77
