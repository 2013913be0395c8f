#!/usr/bin/env bash
# cargo-deny, pinned, installed from crates.io into .tools/ (once: about 2 minutes on
# 2 cores; no C dependency beyond ring's, which the workspace builds anyway).
# Source it (`. .ci/cargo-deny.sh`): it exports ESO_CARGO_DENY, the binary's path, which
# codegen/tests/new.rs uses to check a fresh scaffold's deny.toml.
# Idempotent: a second run only checks the version.
set -euo pipefail
eso_deny_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ESO_CARGO_DENY_VERSION=0.20.2
ESO_CARGO_DENY="$eso_deny_root/.tools/bin/cargo-deny"
if [ "$("$ESO_CARGO_DENY" --version 2>/dev/null || true)" != "cargo-deny $ESO_CARGO_DENY_VERSION" ]; then
  echo "installing cargo-deny $ESO_CARGO_DENY_VERSION into .tools/ (compiles for about 2 minutes, once)"
  cargo install cargo-deny --locked --version "$ESO_CARGO_DENY_VERSION" --root "$eso_deny_root/.tools"
fi
export ESO_CARGO_DENY ESO_CARGO_DENY_VERSION
