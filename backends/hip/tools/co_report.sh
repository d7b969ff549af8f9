#!/bin/sh
# backends/hip/tools/co_report.sh READELF [--check] CODE_OBJECT...
#
# One line per kernel of the AMD code objects, from their metadata notes
# (llvm-readelf --notes): registers, spills, scratch, LDS. The HIP backend's
# kernels must not touch scratch memory (the private segment: per-lane spill
# space in global memory, the slowest thing a GPU kernel can do): with
# --check, any kernel with a private segment, a VGPR/SGPR spill or a dynamic
# stack fails the run (exit 1), and a code object with no kernels is an
# error too. The path of each object is .../<arch>/<file>.co.
#
# Output (Markdown table, sorted as given):
#   | arch | file | kernel | VGPRs | SGPRs | LDS bytes | scratch bytes | spills (v/s) | max threads |
set -eu
readelf="$1"
shift
check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
[ $# -gt 0 ] || { echo "usage: co_report.sh READELF [--check] CODE_OBJECT..." >&2; exit 2; }
echo "| arch | file | kernel | VGPRs | SGPRs | LDS bytes | scratch bytes | spills (v/s) | max threads |"
echo "|---|---|---|---|---|---|---|---|---|"
bad=0
for co in "$@"; do
  arch=$(basename "$(dirname "$co")")
  file=$(basename "$co" .co)
  notes=$("$readelf" --notes "$co") || { echo "co_report: $co: llvm-readelf failed" >&2; exit 2; }
  out=$(printf '%s\n' "$notes" | awk -v arch="$arch" -v file="$file" '
    function emit() {
      if (name == "") return
      n++
      printf "| %s | %s | %s | %s | %s | %s | %s | %s/%s | %s |\n", arch, file, name, vgpr, sgpr, lds, priv, vsp, ssp, maxwg
      if (priv != 0 || vsp != 0 || ssp != 0 || dyn == "true") printf "BAD %s/%s %s: scratch %s, spills %s/%s, dynamic stack %s\n", arch, file, name, priv, vsp, ssp, dyn > "/dev/stderr"
    }
    /^  - \.args:/ { emit(); name = ""; vgpr = sgpr = lds = priv = vsp = ssp = maxwg = "?"; dyn = "false" }
    /^    \.name:/ { name = $2 }
    /^    \.vgpr_count:/ { vgpr = $2 }
    /^    \.sgpr_count:/ { sgpr = $2 }
    /^    \.group_segment_fixed_size:/ { lds = $2 }
    /^    \.private_segment_fixed_size:/ { priv = $2 }
    /^    \.vgpr_spill_count:/ { vsp = $2 }
    /^    \.sgpr_spill_count:/ { ssp = $2 }
    /^    \.uses_dynamic_stack:/ { dyn = $2 }
    /^    \.max_flat_workgroup_size:/ { maxwg = $2 }
    END { emit(); if (n == 0) print "NOKERNELS" > "/dev/stderr" }
  ' 2>"${TMPDIR:-/tmp}/co_report.$$")
  printf '%s\n' "$out"
  if [ -s "${TMPDIR:-/tmp}/co_report.$$" ]; then
    sed "s|^NOKERNELS|$co: no kernels in the metadata|" "${TMPDIR:-/tmp}/co_report.$$" >&2
    bad=1
  fi
  rm -f "${TMPDIR:-/tmp}/co_report.$$"
done
if [ $check = 1 ] && [ $bad = 1 ]; then
  echo "co_report: kernels above use scratch memory, spill or have no metadata" >&2
  exit 1
fi
exit 0
