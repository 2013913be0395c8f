#!/usr/bin/env python3
"""An External Secrets Operator provider in Python: an in-memory READ_WRITE store.

ESO core calls out-of-process providers over gRPC with mutual TLS
(`provider.v1.SecretStoreProvider`, proto/proto/provider/v1/provider.proto). This
file is a whole provider in plain Python with grpcio, to show the contract is not
Rust's: `eso-gen conformance` runs against it by address (see README.md beside
this file, and codegen/tests/conformance_python.rs, which does it in CI).

What it does, the way ESO core needs it (book/src/conformance.md):

* Values are bytes and come back byte for byte.
* NOT_FOUND means only "this remote secret does not exist" (a missing key,
  version or property): ESO core may delete the target Secret on it. A missing
  provider object is FAILED_PRECONDITION, an unknown kind UNIMPLEMENTED, a
  request without provider_ref or with an empty key INVALID_ARGUMENT.
* Namespaced stores (SecretStore, ProviderStore, Provider) reach only objects in
  the caller's namespace (PERMISSION_DENIED otherwise); cluster stores
  (ClusterSecretStore, ClusterProviderStore, ClusterProvider) reach any.
* Validate reports a missing object in-band (valid=false); deleting a key that
  is not there succeeds; no error message holds a secret value.
* mTLS with a required client certificate (reloaded when the files change), the
  standard health service, and server reflection (v1 and v1alpha) with the real
  descriptors of our .proto.

Its provider objects come from a JSON file (a list of Kubernetes-style objects):

    [{"apiVersion": "provider.external-secrets.io/v2alpha1", "kind": "Memory",
      "metadata": {"namespace": "default", "name": "backend"},
      "spec": {"data": [{"key": "greeting", "value": "hello"},
                        {"key": "greeting", "version": "v1", "value": "hi"}]}}]

The Python stubs are generated, never committed:

    python -m grpc_tools.protoc -I proto/proto --python_out=STUBS \
        --grpc_python_out=STUBS provider/v1/provider.proto
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import signal
import sys
import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import grpc

log = logging.getLogger("memory-provider")

# The one kind this provider serves.
API_VERSION = "provider.external-secrets.io/v2alpha1"
KIND = "Memory"
SERVICE = "provider.v1.SecretStoreProvider"

# The ESO objects a call may come through (ProviderReference.store_ref_kind), by
# upstream core generation. Anything else, including empty, is treated as
# namespaced: the strictest.
CLUSTER_STORE_KINDS = frozenset({"ClusterSecretStore", "ClusterProviderStore", "ClusterProvider"})

# Bounds on what a caller can make us do.
MAX_REGEXP_BYTES = 4096  # find.name.regexp
MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # grpc-go clients (ESO core) accept 4 MiB
MAX_SHOWN = 64  # characters of a name shown in an error message

# Capabilities' answer (SecretStoreCapabilities.READ_WRITE in the proto).
READ_WRITE = 2


class Refused(Exception):
    """A call refused with a gRPC status code. The message goes to ESO core and
    into the ExternalSecret's status: it names keys and objects, never a value."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bounded(name: str) -> str:
    """A name as an error message shows it: at most MAX_SHOWN characters."""
    return name if len(name) <= MAX_SHOWN else name[:MAX_SHOWN] + "…"


def shown(name: str) -> str:
    """A key (which may hold spaces or be empty) as an error message shows it: bounded, and quoted."""
    return json.dumps(bounded(name), ensure_ascii=False)


def not_found(what: str) -> Refused:
    """The remote secret does not exist: the only NOT_FOUND."""
    return Refused(grpc.StatusCode.NOT_FOUND, f"{what} not found")


def invalid(message: str) -> Refused:
    """A malformed request."""
    return Refused(grpc.StatusCode.INVALID_ARGUMENT, message)


# ------------------------------------------------------------------ the backend


@dataclass
class Backend:
    """The secrets of one provider object, in memory."""

    # key -> the current value (the spec's unversioned entries, then pushes)
    current: dict[str, bytes] = field(default_factory=dict)
    # key -> version -> value (the spec's versioned entries; read-only)
    versions: dict[str, dict[str, bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, key: str, version: str) -> bytes:
        with self.lock:
            value = self.versions.get(key, {}).get(version) if version else self.current.get(key)
        if value is None:
            label = f"secret {shown(key)}" + (f" version {shown(version)}" if version else "")
            raise not_found(label)
        return value

    def write(self, key: str, value: bytes) -> None:
        with self.lock:
            self.current[key] = value

    def delete(self, key: str) -> None:
        with self.lock:
            self.current.pop(key, None)
            self.versions.pop(key, None)

    def exists(self, key: str) -> bool:
        with self.lock:
            return key in self.current or key in self.versions

    def is_empty(self) -> bool:
        with self.lock:
            return not self.current and not self.versions

    def snapshot(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return sorted(self.current.items())


def json_object(value: bytes, key: str) -> dict[str, Any]:
    """A value read as a JSON object (for properties and GetSecretMap)."""
    try:
        parsed = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if not isinstance(parsed, dict):
        # Never say what the value looked like: it is a secret.
        raise invalid(f"secret {shown(key)} is not a JSON object")
    return parsed


def find_property(obj: dict[str, Any], path: str) -> Any:
    """A property: the exact name first, then `a.b.c` into nested objects; None when absent."""
    if path in obj:
        return obj[path]
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def as_bytes(value: Any) -> bytes:
    """A JSON value as a secret's bytes: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# ------------------------------------------------------------------ provider objects


def load_objects(path: Path) -> dict[tuple[str, str], Backend]:
    """Reads the provider objects file: (namespace, name) -> its backend. Errors name
    the object and field, never a value."""
    items = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a JSON list of provider objects")
    objects: dict[tuple[str, str], Backend] = {}
    for index, item in enumerate(items):
        where = f"{path}: object {index}"
        if not isinstance(item, dict) or (item.get("apiVersion"), item.get("kind")) != (API_VERSION, KIND):
            raise ValueError(f"{where}: this provider serves only kind {KIND} ({API_VERSION})")
        metadata = item.get("metadata") or {}
        namespace, name = metadata.get("namespace"), metadata.get("name")
        if not isinstance(namespace, str) or not namespace or not isinstance(name, str) or not name:
            raise ValueError(f"{where}: metadata.namespace and metadata.name are required")
        backend = Backend()
        for number, entry in enumerate((item.get("spec") or {}).get("data") or []):
            key, value, version = entry.get("key"), entry.get("value"), entry.get("version", "")
            strings = all(isinstance(v, str) for v in (key, value, version))
            if not strings or not key:
                raise ValueError(f"{where}: spec.data[{number}] needs a key and a value (strings)")
            if version:
                backend.versions.setdefault(key, {})[version] = value.encode()
            else:
                backend.current[key] = value.encode()
        objects[(namespace, name)] = backend
    return objects


# ------------------------------------------------------------------ the gRPC service

Handler = TypeVar("Handler", bound=Callable[..., Any])


def rpc(method: Handler) -> Handler:
    """Turns a `Refused` into the call's status, and any other exception into
    INTERNAL without its text (an exception's text may hold a value)."""

    @functools.wraps(method)
    def handler(self: "MemoryProvider", request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except Refused as refusal:
            context.abort(refusal.code, refusal.message)
        except Exception as error:  # noqa: BLE001 - the boundary of the call
            log.error("%s failed: %s", method.__name__, type(error).__name__)
            context.abort(grpc.StatusCode.INTERNAL, "internal error (see the provider's log)")

    return handler  # type: ignore[return-value]


class MemoryProvider:
    """`provider.v1.SecretStoreProvider` over in-memory backends, one per provider object."""

    def __init__(
        self, pb: Any, objects: dict[tuple[str, str], Backend], buggy_not_found: bool = False
    ) -> None:
        self.pb = pb  # the generated provider_pb2 module
        self.objects = objects
        # For the conformance suite's negative test only: answer NOT_FOUND for a
        # missing provider object, the bug the suite exists to catch.
        self.buggy_not_found = buggy_not_found

    # -- which object a request is about

    def check_kind(self, request: Any) -> Any:
        """The request's provider_ref, which must name the kind served here."""
        if not request.HasField("provider_ref"):
            raise invalid("provider_ref is missing")
        ref = request.provider_ref
        if (ref.api_version, ref.kind) != (API_VERSION, KIND):
            raise Refused(
                grpc.StatusCode.UNIMPLEMENTED,
                f"kind {shown(ref.kind)} ({shown(ref.api_version)}) is not served here; "
                f"this provider serves {KIND} ({API_VERSION})",
            )
        return ref

    def resolve(self, request: Any) -> Backend:
        """The provider object a request names, within the scope of the store it came through.

        The object's namespace is provider_ref.namespace, or the caller's
        (source_namespace) when that is empty. Through a namespaced store the
        two must agree; a cluster store serves callers of any namespace.
        """
        ref = self.check_kind(request)
        caller = request.source_namespace
        namespace = ref.namespace or caller
        if not namespace:
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION,
                "the request names no namespace: provider_ref.namespace and source_namespace are both empty",
            )
        if ref.store_ref_kind not in CLUSTER_STORE_KINDS and caller and caller != namespace:
            raise Refused(
                grpc.StatusCode.PERMISSION_DENIED,
                f"a namespaced store ({bounded(ref.store_ref_kind or 'SecretStore')}) "
                f"in namespace {bounded(caller)} "
                f"may not use a provider object in namespace {bounded(namespace)}",
            )
        if not ref.name:
            raise invalid("provider_ref.name is empty")
        backend = self.objects.get((namespace, ref.name))
        if backend is None:
            # A configuration problem, not a missing secret: never NOT_FOUND.
            code = grpc.StatusCode.NOT_FOUND if self.buggy_not_found else grpc.StatusCode.FAILED_PRECONDITION
            raise Refused(code, f"{KIND} {bounded(namespace)}/{bounded(ref.name)} not found")
        return backend

    # -- reads

    @rpc
    def GetSecret(self, request: Any, context: grpc.ServicerContext) -> Any:
        backend = self.resolve(request)
        remote = request.remote_ref
        key = required_key(request, "remote_ref", "key")
        value = backend.read(key, remote.version)
        if remote.property:
            found = find_property(json_object(value, key), remote.property)
            if found is None:
                raise not_found(f"property {shown(remote.property)} of secret {shown(key)}")
            value = as_bytes(found)
        return self.pb.GetSecretResponse(value=value)

    @rpc
    def GetSecretMap(self, request: Any, context: grpc.ServicerContext) -> Any:
        backend = self.resolve(request)
        remote = request.remote_ref
        key = required_key(request, "remote_ref", "key")
        obj = json_object(backend.read(key, remote.version), key)
        if remote.property:
            inner = find_property(obj, remote.property)
            if inner is None:
                raise not_found(f"property {shown(remote.property)} of secret {shown(key)}")
            if not isinstance(inner, dict):
                raise invalid(
                    f"property {shown(remote.property)} of secret {shown(key)} is not a JSON object"
                )
            obj = inner
        return self.pb.GetSecretMapResponse(secrets={name: as_bytes(v) for name, v in obj.items()})

    @rpc
    def GetAllSecrets(self, request: Any, context: grpc.ServicerContext) -> Any:
        """The current secrets whose key matches find.name.regexp (anywhere in the
        key, as Go's regexp.MatchString) and starts with find.path. Python's `re`
        is not RE2: the expression's size is bounded and the caller's deadline
        is checked between keys."""
        backend = self.resolve(request)
        find = request.find
        if find.tags:
            raise Refused(grpc.StatusCode.UNIMPLEMENTED, "find by tags is not supported by this store")
        regexp, path = find.name.regexp, find.path
        if not regexp and not path:
            raise invalid("find needs name.regexp or path")
        if len(regexp.encode()) > MAX_REGEXP_BYTES:
            raise invalid(f"find.name.regexp is longer than {MAX_REGEXP_BYTES} bytes")
        try:
            pattern = re.compile(regexp)
        except re.error as error:
            raise invalid(f"find.name.regexp does not compile: {error.msg}") from None
        found: dict[str, bytes] = {}
        size = 0
        for key, value in backend.snapshot():
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                raise Refused(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed while matching keys")
            if key.startswith(path) and pattern.search(key):
                size += len(key.encode()) + len(value)
                if size > MAX_RESPONSE_BYTES:
                    raise Refused(
                        grpc.StatusCode.OUT_OF_RANGE,
                        f"the matching secrets exceed {MAX_RESPONSE_BYTES} bytes; narrow find.name.regexp",
                    )
                found[key] = value
        return self.pb.GetAllSecretsResponse(secrets=found)

    # -- writes

    @rpc
    def PushSecret(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Stores the Secret's value under `secret_key`, or the whole Secret as a JSON
        object of strings when `secret_key` is empty. As upstream's Fake, `property`
        is ignored: the value is stored under the remote key as it is."""
        backend = self.resolve(request)
        key = required_key(request, "push_secret_data", "remote_key")
        data = request.push_secret_data
        if data.metadata:
            try:
                json.loads(data.metadata)
            except (ValueError, UnicodeDecodeError):
                raise invalid("push_secret_data.metadata is not JSON") from None
        if data.secret_key:
            if data.secret_key not in request.secret_data:
                raise invalid(f"push_secret_data.secret_key {shown(data.secret_key)} is not in secret_data")
            value = request.secret_data[data.secret_key]
        else:
            whole: dict[str, str] = {}
            for name, raw in request.secret_data.items():
                try:
                    whole[name] = raw.decode()
                except UnicodeDecodeError:
                    raise invalid(
                        f"secret_data[{shown(name)}] is not UTF-8 "
                        "and cannot be pushed as part of a whole Secret"
                    ) from None
            value = json.dumps(whole, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        backend.write(key, value)
        return self.pb.PushSecretResponse()

    @rpc
    def DeleteSecret(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Deletes the key; what is not there is deleted already (ESO core's
        PushSecret finalizer would block on an error)."""
        backend = self.resolve(request)
        key = required_key(request, "remote_ref", "remote_key")
        backend.delete(key)
        return self.pb.DeleteSecretResponse()

    @rpc
    def SecretExists(self, request: Any, context: grpc.ServicerContext) -> Any:
        backend = self.resolve(request)
        key = required_key(request, "remote_ref", "remote_key")
        return self.pb.SecretExistsResponse(exists=backend.exists(key))

    # -- the store itself

    @rpc
    def Validate(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Configuration problems are answered in-band (valid=false), as ESO core
        expects; a scope violation or a malformed request is still the call's status."""
        try:
            backend = self.resolve(request)
        except Refused as refusal:
            if refusal.code == grpc.StatusCode.FAILED_PRECONDITION:
                return self.pb.ValidateResponse(valid=False, error=refusal.message)
            raise
        warnings: list[str] = []
        if backend.is_empty():
            warnings.append("spec.data is empty: this store serves only what is pushed to it")
        return self.pb.ValidateResponse(valid=True, warnings=warnings)

    @rpc
    def Capabilities(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Needs only the kind, not an object (ESO core asks for cluster stores too)."""
        self.check_kind(request)
        return self.pb.CapabilitiesResponse(capabilities=READ_WRITE)


def required_key(request: Any, message: str, key_field: str) -> str:
    """`request.<message>.<key_field>`, the remote key, which must be there and not
    empty: INVALID_ARGUMENT otherwise, never NOT_FOUND."""
    if not request.HasField(message):
        raise invalid(f"{message} is missing")
    key = getattr(getattr(request, message), key_field)
    if not key:
        raise invalid(f"{message}.{key_field} is empty")
    return key


# ------------------------------------------------------------------ TLS, health, reflection


class Certificates:
    """The server side of mutual TLS from a folder with `tls.crt`, `tls.key` and
    `ca.crt` (`certs/server` from `eso-gen certs`, or the mounted Secret
    `external-secrets-provider-tls`). A client certificate signed by `ca.crt` is
    required. The files are read again when they change (ESO core rotates them),
    checked at each new TLS handshake."""

    FILES = ("tls.crt", "tls.key", "ca.crt")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.stamp = self._stamp()
        self.initial = self._configuration()

    def _stamp(self) -> tuple[int, ...]:
        return tuple(os.stat(self.folder / name).st_mtime_ns for name in self.FILES)

    def _configuration(self) -> Any:
        cert, key, ca = ((self.folder / name).read_bytes() for name in self.FILES)
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def fetch(self) -> Any:
        """gRPC's callback before each handshake: a new configuration, or None to keep the one in use."""
        with self.lock:
            try:
                stamp = self._stamp()
                if stamp == self.stamp:
                    return None
                configuration = self._configuration()
            except OSError as error:
                log.warning("certificates in %s not reloaded: %s", self.folder, error.strerror)
                return None
            self.stamp = stamp
            log.info("certificates in %s reloaded", self.folder)
            return configuration

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self.initial, self.fetch, require_client_authentication=True
        )


def add_reflection(server: grpc.Server, services: list[str]) -> None:
    """gRPC server reflection, v1alpha and v1, from the process's descriptor pool,
    which holds the descriptors protoc compiled from our .proto.

    grpcio-reflection implements v1alpha only. v1 has the same messages, field for
    field, in package grpc.reflection.v1, so the same servicer answers both; its
    descriptor is v1alpha's under the v1 names, so v1 can be described too.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, text_format
    from grpc_reflection.v1alpha import reflection, reflection_pb2

    v1_service = "grpc.reflection.v1.ServerReflection"
    v1alpha = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(v1alpha)
    v1_text = text_format.MessageToString(v1alpha).replace("v1alpha", "v1")
    v1 = text_format.Parse(v1_text, descriptor_pb2.FileDescriptorProto())
    descriptor_pool.Default().AddSerializedFile(v1.SerializeToString())

    names = [*services, reflection.SERVICE_NAME, v1_service]
    reflection.enable_server_reflection(names, server)
    servicer = reflection.ReflectionServicer(names)
    v1_handler = grpc.method_handlers_generic_handler(
        v1_service,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((v1_handler,))


def import_stubs(stubs: Path) -> tuple[Any, Any]:
    """The modules grpc_tools.protoc generated into `stubs` (provider/v1/provider_pb2*.py).

    The generated package is named `provider`, like this file: this file's own
    folder leaves the import path, so `import provider` finds the package.
    """
    here = Path(__file__).resolve().parent
    sys.path[:] = [str(stubs)] + [p for p in sys.path if Path(p or ".").resolve() != here]
    from provider.v1 import provider_pb2, provider_pb2_grpc

    return provider_pb2, provider_pb2_grpc


# ------------------------------------------------------------------ main


def serve(args: argparse.Namespace) -> int:
    pb, pb_grpc = import_stubs(args.stubs)
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    try:
        objects = load_objects(args.objects)
        certificates = Certificates(args.certs)
    except (OSError, ValueError) as error:
        print(f"memory-provider: {error}", file=sys.stderr)
        return 2

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.workers),
        options=[
            # ESO core's client pings every 10 s, also with no call open.
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
            # As upstream's provider servers: idle connections closed after 15 min,
            # any connection after 30 min, with a grace for calls in flight.
            ("grpc.max_connection_idle_ms", 15 * 60 * 1000),
            ("grpc.max_connection_age_ms", 30 * 60 * 1000),
            ("grpc.max_connection_age_grace_ms", 30 * 1000),
        ],
    )
    provider = MemoryProvider(pb, objects, args.buggy_not_found)
    pb_grpc.add_SecretStoreProviderServicer_to_server(provider, server)

    health_servicer = health.HealthServicer()
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    add_reflection(server, [SERVICE, health.SERVICE_NAME])

    port = server.add_secure_port(args.listen, certificates.credentials())
    if port == 0:
        print(f"memory-provider: cannot listen on {args.listen}", file=sys.stderr)
        return 2
    server.start()

    host = args.listen.rsplit(":", 1)[0]
    log.info("serving %s (%d objects) with mTLS on %s:%d", KIND, len(objects), host, port)
    if args.port_file:
        # Written whole, then renamed: a reader never sees half a number.
        partial = args.port_file.with_name(args.port_file.name + ".partial")
        partial.write_text(f"{port}\n")
        partial.replace(args.port_file)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    log.info("stopping: NOT_SERVING, then up to 5 s for calls in flight")
    health_servicer.enter_graceful_shutdown()
    server.stop(grace=5).wait()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stubs", type=Path, required=True, help="the folder grpc_tools.protoc generated into"
    )
    parser.add_argument("--objects", type=Path, required=True, help="the provider objects, a JSON list")
    parser.add_argument(
        "--certs", type=Path, required=True, help="the folder with tls.crt, tls.key and ca.crt"
    )
    parser.add_argument("--listen", default="0.0.0.0:8080", help="host:port; port 0 lets the OS pick one")
    parser.add_argument("--port-file", type=Path, help="write the port bound here once serving")
    parser.add_argument("--workers", type=int, default=16, help="threads serving calls")
    parser.add_argument(
        "--buggy-not-found",
        action="store_true",
        help="answer NOT_FOUND for a missing provider object "
        "(a deliberate bug, for the suite's negative test)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
