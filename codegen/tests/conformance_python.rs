//! `eso-gen conformance` by address against a provider in another language:
//! `examples/python/provider.py` (grpcio, stubs generated here from our `.proto`
//! with grpcio-tools), serving mTLS with certificates from the real `eso-gen
//! certs`, checked by the real `eso-gen conformance` with fixtures and `--junit`.
//! Then the same provider with a deliberate bug (NOT_FOUND for a missing provider
//! object) must fail exactly `errors.missing-object`, with exit code 1. Its
//! reflection (v1 and v1alpha) must serve our `.proto`'s descriptor as compiled
//! into `eso_proto`.
//!
//! The interpreter is `$ESO_PYTHON`, the project's venv with the four grpc
//! packages, set by `. .ci/tools.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use base64::Engine;
use common::eso_gen;
use prost_reflect::prost::Message;
use prost_reflect::prost_types::FileDescriptorProto;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KIND: &str = "Memory";
const API_VERSION: &str = "provider.external-secrets.io/v2alpha1";

/// The provider objects `provider.py` serves: the target, and one in another
/// namespace (which a namespaced store must never reach).
const OBJECTS: &str = r#"[
  {"apiVersion": "provider.external-secrets.io/v2alpha1", "kind": "Memory",
   "metadata": {"namespace": "default", "name": "backend"},
   "spec": {"data": [
     {"key": "greeting", "value": "python-greeting-7e3a"},
     {"key": "db/credentials", "value": "{\"username\":\"app-user\",\"password\":\"pw-python-41c9\"}"},
     {"key": "db/credentials", "version": "v1", "value": "old-credentials-python-b2d4"}
   ]}},
  {"apiVersion": "provider.external-secrets.io/v2alpha1", "kind": "Memory",
   "metadata": {"namespace": "eso-conformance-elsewhere", "name": "backend"},
   "spec": {"data": [{"key": "greeting", "value": "elsewhere-greeting-0f5e"}]}}
]"#;

const FIXTURES: &str = "\
secrets:
  - key: greeting
    value: python-greeting-7e3a
  - key: db/credentials
    property: password
    value: pw-python-41c9
  - key: db/credentials
    version: v1
    value: old-credentials-python-b2d4
  - key: db/credentials
    map: {username: app-user, password: pw-python-41c9}
finds:
  - {path: db/, keys: [db/credentials]}
  - {path: gr, regexp: 'eting$', keys: [greeting]}
";

/// Parses a JUnit file with Python's XML parser (a real one: a file that is not
/// well-formed fails) and prints the suite's counts and each case's outcome as JSON.
const JUNIT_SUMMARY: &str = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = []
for case in root.iter("testcase"):
    outcome = "failed" if case.find("failure") is not None else "skipped" if case.find("skipped") is not None else "passed"
    cases.append({"classname": case.get("classname"), "name": case.get("name"), "outcome": outcome})
print(json.dumps({"root": root.tag, "tests": root.get("tests"), "failures": root.get("failures"),
                  "skipped": root.get("skipped"), "cases": cases}))
"#;

/// Asks the provider's reflection service (`sys.argv[3]`: v1 or v1alpha, both
/// wire-identical, so v1alpha's message classes serve both) over mTLS for its
/// services and the file that defines `provider.v1.SecretStoreProvider`; prints
/// them as JSON, the file's descriptor in base64.
const REFLECT: &str = r#"
import base64, json, sys, grpc
from grpc_reflection.v1alpha import reflection_pb2 as r
address, certs, version = sys.argv[1:4]
read = lambda name: open(f"{certs}/{name}", "rb").read()
channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(read("ca.crt"), read("tls.key"), read("tls.crt")))
info = channel.stream_stream(f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                             request_serializer=r.ServerReflectionRequest.SerializeToString,
                             response_deserializer=r.ServerReflectionResponse.FromString)
requests = [r.ServerReflectionRequest(list_services=""),
            r.ServerReflectionRequest(file_containing_symbol="provider.v1.SecretStoreProvider")]
services, files = [], []
for response in info(iter(requests), timeout=20):
    services += [s.name for s in response.list_services_response.service]
    files += [base64.b64encode(f).decode() for f in response.file_descriptor_response.file_descriptor_proto]
print(json.dumps({"services": services, "files": files}))
"#;

/// The interpreter of the project's venv; the test fails (never skips) without it.
fn python() -> PathBuf {
    match std::env::var_os("ESO_PYTHON") {
        Some(python) if !python.is_empty() => PathBuf::from(python),
        _ => panic!(
            "ESO_PYTHON is not set: run `. .ci/tools.sh` first (it installs grpcio, grpcio-tools, \
             grpcio-health-checking and grpcio-reflection into .venv and exports ESO_PYTHON)"
        ),
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `python args…` to completion, asserting it succeeds; its stdout.
fn run_python(args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new(python())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the Python interpreter starts");
    assert!(
        output.status.success(),
        "{args:?}: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `provider.py` running on a loopback port; killed when dropped.
struct PythonProvider {
    child: eso_runtime::testing::KillOnDrop,
    dir: tempfile::TempDir,
    address: String,
}

impl PythonProvider {
    /// Generates the stubs, issues certificates, starts `provider.py` with
    /// `extra` flags and waits until it has written its port.
    async fn start(extra: &[&str]) -> PythonProvider {
        let dir = tempfile::tempdir().unwrap();
        let stubs = dir.path().join("stubs");
        std::fs::create_dir_all(&stubs).unwrap();
        let proto = repo().join("proto/proto");
        let python_out = format!("--python_out={}", stubs.display());
        let grpc_out = format!("--grpc_python_out={}", stubs.display());
        run_python(&[
            "-m".as_ref(),
            "grpc_tools.protoc".as_ref(),
            "-I".as_ref(),
            proto.as_os_str(),
            python_out.as_ref(),
            grpc_out.as_ref(),
            "provider/v1/provider.proto".as_ref(),
        ]);
        assert!(stubs.join("provider/v1/provider_pb2_grpc.py").is_file());

        let certs = dir.path().join("certs");
        eso_gen(&[
            "certs",
            "--service",
            "provider-python",
            "--namespace",
            "default",
            "--dns",
            "127.0.0.1",
            "--out",
            certs.to_str().unwrap(),
        ])
        .await
        .assert_code(0);

        let objects = dir.path().join("objects.json");
        std::fs::write(&objects, OBJECTS).unwrap();
        let port_file = dir.path().join("port");
        let log = std::fs::File::create(dir.path().join("provider.log")).unwrap();
        let child = Command::new(python())
            .arg(repo().join("examples/python/provider.py"))
            .arg("--stubs")
            .arg(&stubs)
            .arg("--objects")
            .arg(&objects)
            .arg("--certs")
            .arg(certs.join("server"))
            .args(["--listen", "127.0.0.1:0", "--port-file"])
            .arg(&port_file)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the Python provider starts");
        let mut provider = PythonProvider {
            child: eso_runtime::testing::KillOnDrop(child),
            dir,
            address: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(port) = std::fs::read_to_string(&port_file) {
                let port: u16 = port.trim().parse().expect("a port number");
                provider.address = format!("127.0.0.1:{port}");
                return provider;
            }
            if let Some(status) = provider.child.try_wait().unwrap() {
                panic!("provider.py exited ({status}):\n{}", provider.log());
            }
            assert!(Instant::now() < deadline, "no port within 60 s:\n{}", provider.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn client_certs(&self) -> PathBuf {
        self.dir.path().join("certs/client")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("provider.log")).unwrap_or_default()
    }

    /// `eso-gen conformance` against this provider's `Memory default/backend`.
    async fn conformance(&self, junit: &Path) -> common::Run {
        let fixtures = self.dir.path().join("fixtures.yaml");
        std::fs::write(&fixtures, FIXTURES).unwrap();
        eso_gen(&[
            "conformance",
            &self.address,
            "--certs",
            self.client_certs().to_str().unwrap(),
            "--kind",
            KIND,
            "--api-version",
            API_VERSION,
            "--name",
            "backend",
            "--namespace",
            "default",
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ])
        .await
    }
}

/// Every case id of the suite, from `eso-gen conformance --list`.
async fn case_ids() -> Vec<String> {
    let run = eso_gen(&["conformance", "--list"]).await;
    run.assert_code(0);
    let ids: Vec<String> = run
        .stdout_text()
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(ids.len() >= 37, "{}", run.stdout_text());
    ids
}

/// The cases that cannot apply to an in-memory READ_WRITE store run with
/// fixtures that do not ask for seeding: the generator cases, the read-only
/// cases and the seed.
fn expected_skips(ids: &[String]) -> BTreeSet<String> {
    let skips: BTreeSet<String> = ids
        .iter()
        .filter(|id| id.starts_with("generator.") || id.starts_with("store.read-only.") || *id == "fixtures.seed.push")
        .cloned()
        .collect();
    assert_eq!(skips.len(), 9, "{skips:?}");
    skips
}

/// The ids on the report's lines that start with `prefix` (`PASS `, `SKIP `, `FAIL `).
fn ids_with(stdout: &str, prefix: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .map(|rest| rest.split(':').next().unwrap_or(rest).to_string())
        .collect()
}

/// The JUnit file, parsed by Python's XML parser.
fn junit_summary(junit: &Path) -> serde_json::Value {
    let text = run_python(&["-c".as_ref(), JUNIT_SUMMARY.as_ref(), junit.as_os_str()]);
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn the_python_provider_passes_every_applicable_case_by_address() {
    let ids = case_ids().await;
    let skips = expected_skips(&ids);
    let provider = PythonProvider::start(&[]).await;
    let junit = provider.dir.path().join("junit.xml");

    let run = provider.conformance(&junit).await;
    let stdout = run.stdout_text();
    assert_eq!(
        run.code,
        Some(0),
        "{stdout}\n{}\nprovider log:\n{}",
        run.stderr,
        provider.log()
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("eso-gen conformance 0.1.0 (suite v1)"),
        "{stdout}"
    );
    assert_eq!(
        lines.get(1).copied(),
        Some(
            format!(
                "target: Memory default/backend ({API_VERSION}) through SecretStore at {}",
                provider.address
            )
            .as_str()
        ),
        "{stdout}"
    );
    let passed = ids.len() - skips.len();
    assert_eq!(
        lines.last().copied(),
        Some(format!("{passed} passed, 0 failed, {} skipped", skips.len()).as_str()),
        "{stdout}"
    );
    // Every case that applies passed; exactly the ones that cannot apply skipped.
    let expected_passes: BTreeSet<String> = ids.iter().filter(|id| !skips.contains(*id)).cloned().collect();
    assert_eq!(ids_with(&stdout, "PASS "), expected_passes, "{stdout}");
    assert_eq!(ids_with(&stdout, "SKIP "), skips, "{stdout}");
    assert!(ids_with(&stdout, "FAIL ").is_empty(), "{stdout}");
    for case in [
        "store.roundtrip.large-value",
        "store.get.missing-version",
        "store.get-map.fixtures",
        "scope.namespaced-store.cross-namespace",
        "errors.missing-object",
        "errors.no-value-in-messages",
    ] {
        assert!(lines.contains(&format!("PASS {case}").as_str()), "{case}: {stdout}");
    }
    assert!(
        lines.contains(&"SKIP store.read-only.push-unimplemented: needs read-only; Capabilities says READ_WRITE"),
        "{stdout}"
    );
    for value in ["python-greeting", "pw-python", "old-credentials-python"] {
        assert!(!stdout.contains(value), "a value is printed: {stdout}");
    }

    let junit = junit_summary(&junit);
    assert_eq!(junit["root"], "testsuites", "{junit}");
    assert_eq!(junit["tests"], ids.len().to_string(), "{junit}");
    assert_eq!(junit["failures"], "0", "{junit}");
    assert_eq!(junit["skipped"], skips.len().to_string(), "{junit}");
    let cases = junit["cases"].as_array().unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ids.iter().map(String::as_str).collect::<Vec<_>>(), "{junit}");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expected = if skips.contains(name) { "skipped" } else { "passed" };
        assert_eq!(case["outcome"], expected, "{name}: {junit}");
        let classname = name.rsplit_once('.').map(|(class, _)| class).unwrap();
        assert_eq!(case["classname"], classname, "{name}: {junit}");
    }
}

/// `provider/v1/provider.proto` as a comparable descriptor: without source
/// locations and JSON names, which compilers fill in differently.
fn normalized(mut file: FileDescriptorProto) -> FileDescriptorProto {
    fn clear(message: &mut prost_reflect::prost_types::DescriptorProto) {
        for field in &mut message.field {
            field.json_name = None;
        }
        message.nested_type.iter_mut().for_each(clear);
    }
    file.source_code_info = None;
    file.message_type.iter_mut().for_each(clear);
    file
}

#[tokio::test]
async fn the_python_provider_reflects_the_descriptors_of_our_proto_in_v1_and_v1alpha() {
    let provider = PythonProvider::start(&[]).await;
    let pool = prost_reflect::DescriptorPool::decode(eso_proto::FILE_DESCRIPTOR_SET).unwrap();
    let ours = pool.get_file_by_name("provider/v1/provider.proto").unwrap();
    let ours = normalized(ours.file_descriptor_proto().clone());
    assert_eq!(ours.service[0].method.len(), 8);
    for version in ["v1", "v1alpha"] {
        let client = provider.client_certs();
        let text = run_python(&[
            "-c".as_ref(),
            REFLECT.as_ref(),
            provider.address.as_ref(),
            client.as_os_str(),
            version.as_ref(),
        ]);
        let reflected: serde_json::Value = serde_json::from_str(&text).unwrap();
        let services: BTreeSet<&str> = reflected["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        for service in [
            "provider.v1.SecretStoreProvider",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(services.contains(service), "{version}: {service} not in {services:?}");
        }
        let files = reflected["files"].as_array().unwrap();
        assert_eq!(files.len(), 1, "{version}: {text}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(files[0].as_str().unwrap())
            .unwrap();
        let theirs = normalized(FileDescriptorProto::decode(bytes.as_slice()).unwrap());
        assert_eq!(
            theirs, ours,
            "{version}: the reflected descriptor differs from our .proto's"
        );
    }
}

#[tokio::test]
async fn a_python_provider_answering_not_found_for_a_missing_object_fails_with_exit_1() {
    let ids = case_ids().await;
    let skips = expected_skips(&ids);
    let provider = PythonProvider::start(&["--buggy-not-found"]).await;
    let junit = provider.dir.path().join("junit.xml");

    let run = provider.conformance(&junit).await;
    let stdout = run.stdout_text();
    assert_eq!(
        run.code,
        Some(1),
        "{stdout}\n{}\nprovider log:\n{}",
        run.stderr,
        provider.log()
    );
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    // Every RPC but Capabilities is about the object; each answered NOT_FOUND.
    assert!(
        failed[0].starts_with("FAIL errors.missing-object: GetSecret of a missing provider object: NOT_FOUND ("),
        "{stdout}"
    );
    for rpc in [
        "GetSecret",
        "GetSecretMap",
        "PushSecret",
        "DeleteSecret",
        "SecretExists",
        "GetAllSecrets",
        "Validate",
    ] {
        assert!(
            failed[0].contains(&format!("{rpc} of a missing provider object: NOT_FOUND (")),
            "{rpc}: {stdout}"
        );
    }
    assert!(
        failed[0].ends_with(
            "(NOT_FOUND means only that the remote secret does not exist: ESO core may delete the target Secret on it)"
        ),
        "{stdout}"
    );
    let passed = ids.len() - skips.len() - 1;
    assert!(
        stdout.ends_with(&format!("{passed} passed, 1 failed, {} skipped\n", skips.len())),
        "{stdout}"
    );
    let junit = junit_summary(&junit);
    assert_eq!(junit["failures"], "1", "{junit}");
    let failed_cases: Vec<&str> = junit["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "failed")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed_cases, ["errors.missing-object"], "{junit}");
}
