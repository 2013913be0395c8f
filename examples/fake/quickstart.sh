#!/usr/bin/env bash
# Quick start: run the Fake provider on this machine (no cluster) and call it over
# real mutual TLS the way ESO core does, then shut it down with SIGTERM.
#
#   bash examples/fake/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== building the Fake provider and eso-gen"
cargo build --quiet --locked -p eso-example-fake -p eso-codegen
bin=target/debug

work=$(mktemp -d)
provider_pid=""
cleanup() {
  if [ -n "$provider_pid" ] && kill -0 "$provider_pid" 2>/dev/null; then kill -KILL "$provider_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting fake-provider --dev (ephemeral CA, server and client certificates)"
"$bin/fake-provider" --dev --dev-dir "$work/dev" --grpc-port 0 --metrics-port 0 \
  --manifests examples/fake/manifests >"$work/provider.log" 2>&1 &
provider_pid=$!

for _ in $(seq 1 300); do
  [ -s "$work/dev/client/address" ] && break
  if ! kill -0 "$provider_pid" 2>/dev/null; then cat "$work/provider.log"; echo "provider exited early" >&2; exit 1; fi
  sleep 0.1
done
if [ ! -s "$work/dev/client/address" ]; then cat "$work/provider.log"; echo "provider did not start" >&2; exit 1; fi
address=$(cat "$work/dev/client/address")
certs="$work/dev/client"
echo "   listening on $address; client certificate in $certs"

call() { "$bin/eso-gen" call "$address" "$@" --certs "$certs" --kind Fake --name fake --namespace default; }

echo
echo "== eso-gen call $address GetSecret --key hello   (mTLS, CN external-secrets-controller)"
call GetSecret --key hello
echo
echo "== eso-gen call $address GetSecret --key db/credentials --property password"
call GetSecret --key db/credentials --property password
echo
echo "== eso-gen call $address Validate"
call Validate
echo
echo "== eso-gen call $address GetSecret --key missing   (a missing secret is NOT_FOUND)"
if call GetSecret --key missing; then echo "expected NOT_FOUND" >&2; exit 1; fi

value=$(call GetSecret --key hello --raw-value)
if [ "$value" != "world" ]; then echo "expected the value 'world', got '$value'" >&2; exit 1; fi

echo
echo "== SIGTERM: drain and exit"
kill -TERM "$provider_pid"
status=0
wait "$provider_pid" || status=$?
provider_pid=""
if [ "$status" -ne 0 ]; then cat "$work/provider.log"; echo "provider exited with $status" >&2; exit 1; fi
echo "   provider exited 0"
echo
echo "quick start OK: the Fake provider served 'hello' = '$value' over mutual TLS"
