#!/usr/bin/env bash
# cargo-deny over the workspace (deny.toml): licenses, bans and sources, which need no
# network, always; advisories only where the RustSec advisory database can be fetched
# (this project's machines cannot reach it), or always with ESO_DENY_ADVISORIES=1, where
# a fetch that fails is then an error. Each of the three offline checks is first shown to
# refuse a scratch project that breaks it, under the workspace's own deny.toml, so the
# gate cannot pass everything silently.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/cargo-deny.sh
"$ESO_CARGO_DENY" --version
deny() { "$ESO_CARGO_DENY" --color never "$@"; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# A project that breaks each offline check: its own license is GPL-3.0-only (not on the
# allow-list), it depends on two versions of one crate, and on a crate from a git
# repository (a local one: no network needed).
mkdir -p "$scratch/bad/src" "$scratch/dup1/src" "$scratch/dup2/src" "$scratch/repo/src"
for v in 1 2; do
  printf '[package]\nname = "dup"\nversion = "%s.0.0"\nedition = "2021"\nlicense = "MIT"\n' "$v" >"$scratch/dup$v/Cargo.toml"
  : >"$scratch/dup$v/src/lib.rs"
done
printf '[package]\nname = "fromgit"\nversion = "1.0.0"\nedition = "2021"\nlicense = "MIT"\n' >"$scratch/repo/Cargo.toml"
: >"$scratch/repo/src/lib.rs"
git -C "$scratch/repo" init --quiet
git -C "$scratch/repo" add .
git -C "$scratch/repo" -c user.name=ci -c user.email=ci@localhost commit --quiet -m fromgit
cat >"$scratch/bad/Cargo.toml" <<TOML
[package]
name = "bad"
version = "0.1.0"
edition = "2021"
license = "GPL-3.0-only"

[dependencies]
dup1 = { package = "dup", version = "1", path = "../dup1" }
dup2 = { package = "dup", version = "2", path = "../dup2" }
fromgit = { git = "file://$scratch/repo" }

[workspace]
TOML
: >"$scratch/bad/src/lib.rs"

# refuses CHECK CODE: `cargo deny check CHECK` must fail on the scratch project, with the
# diagnostic CODE (e.g. error[rejected]).
refuses() {
  local out="$scratch/$1.txt"
  if deny --manifest-path "$scratch/bad/Cargo.toml" --config deny.toml check "$1" >"$out" 2>&1; then
    cat "$out"
    echo "FAIL: cargo deny check $1 passed a project that breaks it"
    exit 1
  fi
  grep -q "error\[$2\]" "$out" || { cat "$out"; echo "FAIL: check $1 refused, but not with error[$2]"; exit 1; }
  echo "-- check $1 refuses the scratch project (error[$2]), as it should"
}
refuses licenses rejected
refuses bans duplicate
refuses sources source-not-allowed

echo "-- cargo deny check licenses bans sources (the workspace)"
deny --locked check licenses bans sources

echo "-- cargo deny check advisories"
if [ "${ESO_DENY_ADVISORIES:-}" = 1 ]; then
  deny --locked check advisories
elif timeout 120 "$ESO_CARGO_DENY" fetch db >"$scratch/fetch.txt" 2>&1; then
  deny --locked check advisories
else
  echo "advisories: SKIPPED: the RustSec advisory database cannot be fetched from this machine"
  echo "  ($(grep -m1 -oE 'fatal: .*|Could not resolve host[^"]*' "$scratch/fetch.txt" || echo 'fetch failed'))."
  echo "  Where the network allows, ESO_DENY_ADVISORIES=1 bash .ci/deny.sh runs it and fails if it cannot."
fi
