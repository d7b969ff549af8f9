#!/bin/sh
# backends/hip/tools/kernel_docs_check.sh READELF DOC CODE_OBJECT...
# docs/hip-kernels.md lists exactly the (arch, file, kernel) rows that the
# built code objects hold. Register counts may drift with the compiler, so
# only the set of kernels is compared. Regenerate the page with
# `ninja hip-kernel-report` and copy build/hip-kernels.md over it.
set -eu
readelf="$1"
doc="$2"
shift 2
here=$(dirname "$0")
t="${TMPDIR:-/tmp}/kernel_docs_check.$$"
sh "$here/co_report.sh" "$readelf" "$@" | awk -F'|' 'NR > 2 { gsub(/ /, ""); print $2 "/" $3 "/" $4 }' | sort > "$t.built"
if [ ! -f "$doc" ]; then
  echo "$doc is missing: run ninja hip-kernel-report and copy build/hip-kernels.md there" >&2
  rm -f "$t.built"
  exit 1
fi
awk -F'|' '/^\| gfx/ { gsub(/ /, ""); print $2 "/" $3 "/" $4 }' "$doc" | sort > "$t.doc"
if ! diff -u "$t.doc" "$t.built" > "$t.diff"; then
  echo "$doc does not list the kernels that were built (- documented, + built):" >&2
  cat "$t.diff" >&2
  echo "regenerate: ninja hip-kernel-report && cp build/hip-kernels.md $doc (keep the page's introduction)" >&2
  rm -f "$t.built" "$t.doc" "$t.diff"
  exit 1
fi
echo "$(wc -l < "$t.built") kernels documented"
rm -f "$t.built" "$t.doc" "$t.diff"
