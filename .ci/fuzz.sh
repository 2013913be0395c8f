#!/usr/bin/env bash
# The fuzz smoke (book: Fuzzing): for every cargo-fuzz crate (runtime/fuzz and
# examples/*/fuzz), build every target, replay its committed corpus, then fuzz
# each for FUZZ_SECONDS (default 20). Fails on any crash, leak, timeout or OOM.
#
# Needs only the Rust toolchain: installs cargo-fuzz when missing; uses nightly
# when installed, else stable with RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z flags).
# Built without a sanitizer (FUZZ_SANITIZER=address to change): safe Rust needs
# none to find panics, and ASan doubles the build and slows the run 2-3x.
# All crates share one target dir, runtime/fuzz/target (FUZZ_TARGET_DIR), so the
# dependency tree (tonic, kube, rustls) is built once.
#
#   FUZZ_SECONDS=600 bash .ci/fuzz.sh          # a longer run
#   FUZZ_TARGETS="dispatch certs" bash .ci/fuzz.sh
#   FUZZ_NIGHTLY=0 bash .ci/fuzz.sh             # stable + RUSTC_BOOTSTRAP=1 even where nightly is installed
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

seconds="${FUZZ_SECONDS:-20}"
sanitizer="${FUZZ_SANITIZER:-none}"
target_dir="${FUZZ_TARGET_DIR:-$root/runtime/fuzz/target}"
only="${FUZZ_TARGETS:-}"
export CARGO_TERM_COLOR=never

started=$(date +%s)
elapsed() { echo "$(($(date +%s) - started))s"; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  t0=$(date +%s)
  cargo install cargo-fuzz --locked
  echo "cargo-fuzz installed in $(($(date +%s) - t0))s"
fi

toolchain=()
if [ "${FUZZ_NIGHTLY:-auto}" != 0 ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
  echo "== cargo-fuzz $(cargo fuzz --version | awk '{print $2}'), $(rustc +nightly --version)"
else
  # +stable explicitly: a fuzz crate's rust-toolchain.toml may name nightly, which
  # rustup would otherwise try (and fail) to install.
  toolchain=(+stable)
  export RUSTC_BOOTSTRAP=1
  echo "== cargo-fuzz $(cargo fuzz --version | awk '{print $2}'), $(rustc --version) with RUSTC_BOOTSTRAP=1"
fi

# --codegen-units 16: the default of 1 makes the cold build of the dependency
# tree several times slower, for a few percent of executions per second.
flags=(--sanitizer "$sanitizer" --target-dir "$target_dir" --codegen-units 16)

crates=()
for dir in runtime/fuzz examples/*/fuzz; do
  [ -f "$dir/Cargo.toml" ] && crates+=("$dir")
done

# targets CRATE: its fuzz targets — the binaries that need no feature (a bin
# behind required-features, like runtime/fuzz's write_seeds, is a tool).
targets() {
  cargo metadata --no-deps --format-version 1 --manifest-path "$1/Cargo.toml" | python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    for target in package["targets"]:
        if "bin" in target["kind"] and not target.get("required-features"):
            print(target["name"])'
}

# run CRATE TARGET LOG ARGS…: one cargo fuzz run; its output goes to LOG, and
# its summary (or, when it fails, the end of the report) to the terminal.
run() {
  local crate="$1" target="$2" log="$3"
  shift 3
  if cargo "${toolchain[@]}" fuzz run --fuzz-dir "$crate" "${flags[@]}" "$target" "$@" >"$log" 2>&1; then
    grep -E '^(INFO: seed corpus|#[0-9]+[[:space:]]+(INITED|DONE))|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
  else
    tail -n 60 "$log"
    return 1
  fi
}

failed=()
for crate in "${crates[@]}"; do
  echo "== $crate: build ($(elapsed))"
  cargo "${toolchain[@]}" fuzz build --fuzz-dir "$crate" "${flags[@]}"
  for target in $(targets "$crate"); do
    if [ -n "$only" ] && [[ " $only " != *" $target "* ]]; then
      continue
    fi
    corpus="$crate/corpus/$target"
    mkdir -p "$corpus"
    scratch="$(mktemp -d)"
    artifacts="$(mktemp -d)"
    libfuzzer=(-artifact_prefix="$artifacts/" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1)
    log="$scratch.log"
    echo "== $crate $target: replay $(find "$corpus" -type f | wc -l) corpus inputs ($(elapsed))"
    if ! run "$crate" "$target" "$log" "$corpus" -- "${libfuzzer[@]}" -runs=0; then
      failed+=("$crate $target (replay)")
    fi
    echo "== $crate $target: fuzz ${seconds}s ($(elapsed))"
    # New inputs go to the scratch folder (the first); the corpus is only read.
    if ! run "$crate" "$target" "$log" "$scratch" "$corpus" -- "${libfuzzer[@]}" -max_total_time="$seconds"; then
      failed+=("$crate $target (fuzz)")
    fi
    if compgen -G "$artifacts/*" >/dev/null; then
      mkdir -p "$crate/artifacts/$target"
      cp "$artifacts"/* "$crate/artifacts/$target/"
      echo "!! $crate $target: crash inputs kept in $crate/artifacts/$target:"
      ls "$crate/artifacts/$target"
      failed+=("$crate $target (artifacts)")
    fi
    rm -rf "$scratch" "$artifacts" "$log"
  done
done

echo "== fuzz smoke done in $(elapsed)"
if [ ${#failed[@]} -gt 0 ]; then
  printf '!! failed: %s\n' "${failed[@]}"
  exit 1
fi
