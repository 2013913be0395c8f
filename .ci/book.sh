#!/usr/bin/env bash
# The book: mdBook (pinned, installed from crates.io into .tools/, once) builds book/
# with every warning an error, then the link check (.ci/linkcheck.py) runs over the
# book's pages and every other tracked Markdown file (README.md, CHANGELOG.md, the
# crates' READMEs), after its own tests. Both gates are first
# shown to fail on a broken mini-book, so neither can pass everything silently.
set -euo pipefail
cd "$(dirname "$0")/.."

MDBOOK_VERSION=0.5.4
MDBOOK="$PWD/.tools/bin/mdbook"

if [ "$("$MDBOOK" --version 2>/dev/null || true)" != "mdbook v$MDBOOK_VERSION" ]; then
  echo "installing mdbook $MDBOOK_VERSION into .tools/ (compiles for a few minutes, once)"
  cargo install mdbook --locked --version "$MDBOOK_VERSION" \
    --no-default-features --features search --root .tools
fi
"$MDBOOK" --version

# mdbook build BOOK, failing on a non-zero exit and on any WARN or ERROR line it logs
# (mdBook logs a broken {{#include}} or unbalanced HTML and still exits 0).
build_book() {
  local log
  log=$(mktemp)
  local status=0
  env -u MDBOOK_LOG "$MDBOOK" build "$1" >"$log" 2>&1 || status=$?
  cat "$log"
  if [ "$status" -ne 0 ]; then
    echo "mdbook build $1: exit $status"
    rm -f "$log"
    return 1
  fi
  if grep -qE '^[[:space:]]*(WARN|ERROR)\b' "$log"; then
    echo "mdbook build $1: warnings are errors"
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

echo "-- the build gate refuses a book with a broken {{#include}}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"
printf '[book]\nsrc = "src"\n[build]\ncreate-missing = false\n' >"$scratch/book.toml"
printf '# Summary\n\n- [Page](page.md)\n' >"$scratch/src/SUMMARY.md"
printf '# Page\n\n{{#include missing.rs}}\n' >"$scratch/src/page.md"
if build_book "$scratch" >"$scratch/out.txt" 2>&1; then
  cat "$scratch/out.txt"
  echo "FAIL: a broken include built without error"
  exit 1
fi
grep -q 'warnings are errors' "$scratch/out.txt" || { cat "$scratch/out.txt"; echo "FAIL: refused for another reason"; exit 1; }
echo "refused, as it should be"

echo "-- mdbook build book (warnings are errors)"
build_book book

echo "-- link check: its own tests (python3 .ci/linkcheck_test.py)"
python3 .ci/linkcheck_test.py

echo "-- link check: the book and every other tracked Markdown file"
mapfile -t markdown < <(git ls-files '*.md' ':!:book/*')
python3 .ci/linkcheck.py --book book --html book/book --root . "${markdown[@]}"
