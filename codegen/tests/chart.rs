//! `eso-gen chart`: the charts committed with the examples are in sync with their binaries,
//! a generated chart passes the real Helm engine's lint and renders what the provider needs
//! (checked object by object), its schema rejects bad values, and regenerating keeps the
//! user's files.
//!
//! The Helm engine is PyPI `helm-python-sdk` (Helm v4's Go code), driven by
//! `tests/helm/chart.py` through the Python in `$ESO_PYTHON`: run `. .ci/tools.sh` first.

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NAMESPACE: &str = "eso-providers";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs eso-gen; returns whether it succeeded and its stdout and stderr.
fn eso_gen(args: &[&str]) -> Result<(bool, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_eso-gen"))
        .args(args)
        .current_dir(workspace())
        .output()
        .context("running eso-gen")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), text))
}

fn example_manifest(example: &str) -> Result<String> {
    let path = workspace().join("examples").join(example).join("Cargo.toml");
    path.to_str().map(str::to_string).context("example path is not UTF-8")
}

/// Generates the chart of an example provider into `out`.
fn generate(example: &str, name: &str, out: &Path) -> Result<()> {
    let manifest = example_manifest(example)?;
    let out = out.to_str().context("out path is not UTF-8")?;
    let (ok, text) = eso_gen(&["chart", "--manifest-path", &manifest, "--name", name, "--out", out])?;
    ensure!(ok, "eso-gen chart failed:\n{text}");
    Ok(())
}

/// The Python with helm_python; a clear failure (never a skip) without it.
fn python() -> Result<PathBuf> {
    let Some(python) = std::env::var_os("ESO_PYTHON") else {
        bail!("ESO_PYTHON is not set: run `. .ci/tools.sh` (installs the real Helm engine, helm-python-sdk) first");
    };
    let status = Command::new(&python)
        .args(["-c", "import helm_python"])
        .status()
        .with_context(|| format!("running {python:?}"))?;
    ensure!(
        status.success(),
        "{python:?} cannot import helm_python: run `. .ci/tools.sh` first"
    );
    Ok(PathBuf::from(python))
}

/// What the Helm engine made of one set of values.
#[derive(Debug)]
struct Case {
    name: String,
    /// Lint messages of severity warning or error, and lint errors.
    lint_problems: Vec<String>,
    schema_error: Option<String>,
    render_error: Option<String>,
    /// Every rendered object.
    objects: Vec<Value>,
    /// The rendered templates as text, by template path.
    manifests: serde_json::Map<String, Value>,
}

impl Case {
    fn ok(&self) -> Result<&Self> {
        ensure!(
            self.lint_problems.is_empty(),
            "{}: helm lint: {:#?}",
            self.name,
            self.lint_problems
        );
        ensure!(
            self.schema_error.is_none(),
            "{}: schema: {:?}",
            self.name,
            self.schema_error
        );
        ensure!(
            self.render_error.is_none(),
            "{}: render: {:?}",
            self.name,
            self.render_error
        );
        Ok(self)
    }

    fn all(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn one(&self, kind: &str) -> Result<&Value> {
        let all = self.all(kind);
        ensure!(
            all.len() == 1,
            "{}: expected one {kind}, found {}",
            self.name,
            all.len()
        );
        Ok(all[0])
    }

    fn notes(&self) -> String {
        self.manifests
            .iter()
            .find(|(path, _)| path.ends_with("NOTES.txt"))
            .and_then(|(_, text)| text.as_str())
            .unwrap_or_default()
            .to_string()
    }
}

/// Lints, validates and renders the chart for each (name, values) with the real Helm engine.
fn helm(chart: &Path, cases: &[(&str, Value)]) -> Result<Vec<Case>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/chart.py");
    let request = json!({
        "cases": cases.iter().map(|(name, values)| json!({"name": name, "values": values, "namespace": NAMESPACE})).collect::<Vec<_>>()
    });
    let mut child = Command::new(python()?)
        .arg(&script)
        .arg(chart)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running tests/helm/chart.py")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().context("stdin")?;
        stdin.write_all(request.to_string().as_bytes())?;
    }
    let output = child.wait_with_output()?;
    ensure!(
        output.status.success(),
        "tests/helm/chart.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout).context("chart.py output is not JSON")?;
    let mut out = Vec::new();
    for case in result["cases"].as_array().context("no cases")? {
        let mut lint_problems: Vec<String> = case["lint"]["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["severity"].as_u64().unwrap_or(3) >= 2)
            .map(|m| m.to_string())
            .collect();
        lint_problems.extend(
            case["lint"]["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e.to_string()),
        );
        let manifests = case["manifests"].as_object().cloned().unwrap_or_default();
        let mut objects = Vec::new();
        for (path, text) in &manifests {
            if path.ends_with("NOTES.txt") {
                continue;
            }
            let text = text.as_str().context("manifest text")?;
            for document in serde_yaml::Deserializer::from_str(text) {
                let value: serde_yaml::Value = serde::Deserialize::deserialize(document)
                    .with_context(|| format!("{path} does not render to YAML:\n{text}"))?;
                if value.is_null() {
                    continue;
                }
                objects.push(serde_json::to_value(value)?);
            }
        }
        out.push(Case {
            name: case["name"].as_str().unwrap_or_default().to_string(),
            lint_problems,
            schema_error: case["schema_error"].as_str().map(str::to_string),
            render_error: case["render_error"].as_str().map(str::to_string),
            objects,
            manifests,
        });
    }
    ensure!(
        out.len() == cases.len(),
        "chart.py answered {} cases of {}",
        out.len(),
        cases.len()
    );
    Ok(out)
}

/// The provider's manifest, as its binary prints it.
fn manifest(example: &str) -> Result<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "--manifest-path",
            &example_manifest(example)?,
            "--",
            "manifest",
        ])
        .output()?;
    ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    Ok(serde_json::from_slice(&output.stdout)?)
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"].as_array()?.iter().find(|e| e["name"] == name)
}

fn numbers_as_floats(value: Value) -> Value {
    match value {
        Value::Number(n) => n.as_f64().map_or(Value::Number(n), |f| json!(f)),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_floats).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, numbers_as_floats(v))).collect()),
        other => other,
    }
}

/// Everything a chart must render with its default values.
fn check_defaults(case: &Case, manifest: &Value, name: &str) -> Result<()> {
    case.ok()?;
    let service_name = format!("provider-{name}");
    let pod_label = format!("external-secrets-provider-{name}");

    let deployment = case.one("Deployment")?;
    assert_eq!(deployment["metadata"]["name"], service_name.as_str());
    assert_eq!(deployment["spec"]["replicas"], 1);
    let pod = &deployment["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["app.kubernetes.io/name"], pod_label.as_str());
    let pod_security = &pod["spec"]["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"], true);
    assert_eq!(pod_security["runAsUser"], 65532);
    assert_eq!(pod_security["runAsGroup"], 65532);
    assert_eq!(pod_security["seccompProfile"]["type"], "RuntimeDefault");
    let containers = pod["spec"]["containers"].as_array().context("containers")?;
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    assert_eq!(container["name"], "provider");
    let security = &container["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["runAsUser"], 65532);
    assert_eq!(security["runAsGroup"], 65532);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(
        container["ports"],
        json!([
            {"name": "grpc", "containerPort": manifest["ports"]["grpc"], "protocol": "TCP"},
            {"name": "metrics", "containerPort": manifest["ports"]["metrics"], "protocol": "TCP"},
        ])
    );
    assert_eq!(
        container["livenessProbe"]["httpGet"],
        json!({"path": "/healthz", "port": "metrics"})
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"],
        json!({"path": "/readyz", "port": "metrics"})
    );
    assert_eq!(
        env(container, "POD_NAMESPACE").context("POD_NAMESPACE")?["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert_eq!(
        env(container, "SERVICE_NAME").context("SERVICE_NAME")?["value"],
        service_name.as_str()
    );
    assert_eq!(
        env(container, "WATCH_NAMESPACES").context("WATCH_NAMESPACES")?["value"],
        ""
    );
    // The server limits, with the defaults the binary has (the chart documents them).
    for (name, value) in [
        ("MAX_CONCURRENT_STREAMS", "128"),
        ("MAX_IN_FLIGHT_CALLS", "512"),
        ("MAX_REQUEST_MEMORY", "16Mi"),
        ("REQUEST_BODY_TIMEOUT", "10s"),
        ("HTTP2_PREFACE_TIMEOUT", "10s"),
    ] {
        assert_eq!(env(container, name).context(name)?["value"], value, "{name}");
    }
    assert!(
        container["args"].is_null() && container["command"].is_null(),
        "in-cluster the provider reads the Kubernetes API: no --manifests"
    );
    assert_eq!(
        container["volumeMounts"],
        json!([{"name": "certs", "mountPath": "/etc/provider/certs", "readOnly": true}])
    );
    let volumes = pod["spec"]["volumes"].as_array().context("volumes")?;
    assert_eq!(volumes[0]["secret"]["secretName"], "external-secrets-provider-tls");
    assert_eq!(container["resources"]["limits"]["memory"], "128Mi");
    assert_eq!(
        container["image"],
        format!(
            "{}:{}",
            manifest["name"].as_str().unwrap_or_default(),
            manifest["version"].as_str().unwrap_or_default()
        )
    );

    let service = case.one("Service")?;
    assert_eq!(service["metadata"]["name"], service_name.as_str());
    assert_eq!(service["metadata"]["labels"]["external-secrets.io/provider"], "true");
    let ports: Vec<(Value, Value)> = service["spec"]["ports"]
        .as_array()
        .context("service ports")?
        .iter()
        .map(|p| (p["name"].clone(), p["port"].clone()))
        .collect();
    assert_eq!(
        ports,
        vec![(json!("grpc"), json!(8080)), (json!("metrics"), json!(8081))]
    );
    assert_eq!(
        service["spec"]["selector"]["app.kubernetes.io/name"],
        pod_label.as_str()
    );
    assert_eq!(case.one("ServiceAccount")?["metadata"]["name"], service_name.as_str());

    // RBAC: exactly the manifest's rules, cluster-wide when no namespace list is set.
    let role = case.one("ClusterRole")?;
    assert_eq!(
        role["rules"], manifest["permissions"],
        "the manifest's rules, nothing more"
    );
    let binding = case.one("ClusterRoleBinding")?;
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": service_name, "namespace": NAMESPACE}])
    );
    assert!(case.all("Role").is_empty() && case.all("RoleBinding").is_empty());

    // NetworkPolicy: gRPC only from ESO core's pods in its namespace; metrics from monitoring.
    let policy = case.one("NetworkPolicy")?;
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        pod_label.as_str()
    );
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress"]));
    assert_eq!(
        policy["spec"]["ingress"],
        json!([
            {
                "from": [{
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "external-secrets"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "external-secrets"}},
                }],
                "ports": [{"port": 8080, "protocol": "TCP"}],
            },
            {
                "from": [{
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                    "podSelector": {},
                }],
                "ports": [{"port": 8081, "protocol": "TCP"}],
            },
        ])
    );

    // CRDs: every one the manifest has, as templates, kept on uninstall.
    let mut expected_crds: Vec<Value> = ["kinds", "generators"]
        .iter()
        .flat_map(|list| manifest[*list].as_array().cloned().unwrap_or_default())
        .filter_map(|kind| kind.get("crd").cloned())
        .collect();
    ensure!(!expected_crds.is_empty(), "the manifest has CRDs");
    let mut crds: Vec<Value> = case.all("CustomResourceDefinition").into_iter().cloned().collect();
    for crd in &mut crds {
        assert_eq!(crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep");
        let metadata = crd["metadata"].as_object_mut().context("metadata")?;
        metadata.remove("annotations");
        metadata.remove("labels");
    }
    let key = |crd: &Value| crd["metadata"]["name"].as_str().unwrap_or_default().to_string();
    crds.sort_by_key(key);
    expected_crds.sort_by_key(key);
    // Helm's YAML round trip writes 1.0 as 1: compare numbers by value.
    let crds: Vec<Value> = crds.into_iter().map(numbers_as_floats).collect();
    let expected_crds: Vec<Value> = expected_crds.into_iter().map(numbers_as_floats).collect();
    assert_eq!(crds, expected_crds, "the CRDs are the manifest's");

    let pdb = case.one("PodDisruptionBudget")?;
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    for absent in [
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
        "Certificate",
        "ClusterProviderClass",
        "ProviderClass",
    ] {
        assert!(case.all(absent).is_empty(), "{absent} is off by default");
    }
    let notes = case.notes();
    assert!(notes.contains("kind: ClusterProviderClass"), "{notes}");
    assert!(
        notes.contains(&format!("address: {service_name}.{NAMESPACE}.svc:8080")),
        "{notes}"
    );
    Ok(())
}

/// Every optional feature switched on, with a namespace list.
fn all_on() -> Value {
    json!({
        "watchNamespaces": ["team-a", "team-b"],
        "autoscaling": {"enabled": true, "maxReplicas": 5},
        "serviceMonitor": {"enabled": true, "labels": {"release": "prometheus"}},
        "certManager": {"enabled": true, "issuerRef": {"name": "eso-ca", "kind": "ClusterIssuer"}},
        "providerClass": {"create": "always"},
        "tls": {"allowedClients": ["external-secrets-controller"]},
    })
}

fn check_all_on(case: &Case, manifest: &Value, name: &str) -> Result<()> {
    case.ok()?;
    let service_name = format!("provider-{name}");
    // RBAC: a Role and RoleBinding per watched namespace, no cluster-wide role.
    assert!(case.all("ClusterRole").is_empty() && case.all("ClusterRoleBinding").is_empty());
    let roles = case.all("Role");
    let namespaces: Vec<&Value> = roles.iter().map(|r| &r["metadata"]["namespace"]).collect();
    assert_eq!(namespaces, vec!["team-a", "team-b"]);
    for role in &roles {
        assert_eq!(role["rules"], manifest["permissions"]);
    }
    let bindings = case.all("RoleBinding");
    assert_eq!(bindings.len(), 2);
    for binding in bindings {
        assert_eq!(binding["roleRef"]["kind"], "Role");
        assert_eq!(binding["subjects"][0]["namespace"], NAMESPACE);
    }
    let deployment = case.one("Deployment")?;
    assert!(deployment["spec"]["replicas"].is_null(), "the HPA owns replicas");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env(container, "WATCH_NAMESPACES").context("env")?["value"],
        "team-a,team-b"
    );
    assert_eq!(
        env(container, "TLS_ALLOWED_CLIENTS").context("env")?["value"],
        "external-secrets-controller"
    );
    let hpa = case.one("HorizontalPodAutoscaler")?;
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], service_name.as_str());
    assert_eq!(hpa["spec"]["maxReplicas"], 5);
    let monitor = case.one("ServiceMonitor")?;
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    let certificate = case.one("Certificate")?;
    assert_eq!(certificate["spec"]["secretName"], "external-secrets-provider-tls");
    assert_eq!(
        certificate["spec"]["dnsNames"],
        json!([
            service_name,
            format!("{service_name}.{NAMESPACE}"),
            format!("{service_name}.{NAMESPACE}.svc"),
            format!("{service_name}.{NAMESPACE}.svc.cluster.local"),
        ])
    );
    assert_eq!(
        certificate["spec"]["issuerRef"],
        json!({"name": "eso-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"})
    );
    let class = case.one("ClusterProviderClass")?;
    assert_eq!(class["apiVersion"], "external-secrets.io/v1alpha1");
    assert_eq!(class["metadata"]["name"], name);
    assert_eq!(class["spec"]["address"], format!("{service_name}.{NAMESPACE}.svc:8080"));
    Ok(())
}

/// Values the schema must refuse, each with the path Helm names.
const BAD_VALUES: &[(&str, &str)] = &[
    (r#"{"logFormat": "xml"}"#, "/logFormat"),
    (r#"{"replicas": 2}"#, "replicas"),
    (
        r#"{"networkPolicy": {"core": {"namespaceSelector": {"matchLabel": {}}}}}"#,
        "matchLabel",
    ),
    (r#"{"watchNamespaces": ["Team_A"]}"#, "/watchNamespaces/0"),
    (r#"{"providerClass": {"create": true}}"#, "/providerClass/create"),
    (r#"{"image": {"pullPolicy": "Sometimes"}}"#, "/image/pullPolicy"),
    (r#"{"crds": {"install": "yes"}}"#, "/crds/install"),
];

fn check_chart(example: &str, name: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("chart");
    generate(example, name, &chart)?;
    let manifest = manifest(example)?;

    let mut cases: Vec<(String, Value)> = vec![
        ("defaults".into(), json!({})),
        ("all-on".into(), all_on()),
        (
            "namespaced-class".into(),
            json!({"watchNamespaces": ["team-a", "team-b"], "providerClass": {"create": "always", "kind": "ProviderClass", "name": "mine"}}),
        ),
        ("no-crds".into(), json!({"crds": {"install": false}})),
        ("crds-not-kept".into(), json!({"crds": {"keep": false}})),
        ("class-never".into(), json!({"providerClass": {"create": "never"}})),
        (
            "cert-manager-without-issuer".into(),
            json!({"certManager": {"enabled": true}}),
        ),
        (
            "selectors".into(),
            // As in any chart, a value given with -f or --set merges with values.yaml: null
            // removes the default label.
            json!({"networkPolicy": {"core": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": null, "team": "eso"}}}, "metrics": {"enabled": false}}}),
        ),
    ];
    for (index, (bad, _)) in BAD_VALUES.iter().enumerate() {
        cases.push((format!("bad-{index}"), serde_json::from_str(bad)?));
    }
    let borrowed: Vec<(&str, Value)> = cases.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let results = helm(&chart, &borrowed)?;
    let case = |wanted: &str| {
        results
            .iter()
            .find(|c| c.name == wanted)
            .with_context(|| format!("case {wanted}"))
    };

    check_defaults(case("defaults")?, &manifest, name)?;
    check_all_on(case("all-on")?, &manifest, name)?;

    let namespaced = case("namespaced-class")?.ok()?;
    let classes = namespaced.all("ProviderClass");
    assert_eq!(classes.len(), 2);
    for (class, namespace) in classes.iter().zip(["team-a", "team-b"]) {
        assert_eq!(class["metadata"]["namespace"], namespace);
        assert_eq!(class["metadata"]["name"], "mine");
        assert_eq!(
            class["spec"]["address"],
            format!("provider-{name}.{NAMESPACE}.svc:8080")
        );
    }
    assert!(namespaced.all("ClusterProviderClass").is_empty());

    assert!(case("no-crds")?.ok()?.all("CustomResourceDefinition").is_empty());
    let not_kept = case("crds-not-kept")?.ok()?;
    let crds = not_kept.all("CustomResourceDefinition");
    assert!(!crds.is_empty());
    for crd in crds {
        assert!(crd["metadata"]["annotations"]["helm.sh/resource-policy"].is_null());
    }
    let never = case("class-never")?.ok()?;
    assert!(never.all("ClusterProviderClass").is_empty());
    assert!(never.notes().contains("No ClusterProviderClass was created"));

    let no_issuer = case("cert-manager-without-issuer")?;
    let error = no_issuer.render_error.as_deref().unwrap_or_default();
    assert!(error.contains("certManager.issuerRef.name"), "{no_issuer:?}");

    // The selectors given, the metrics rule off.
    let selectors = case("selectors")?.ok()?;
    let policy = selectors.one("NetworkPolicy")?;
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{
            "from": [{
                "namespaceSelector": {"matchLabels": {"team": "eso"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "external-secrets"}},
            }],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        }])
    );

    for (index, (bad, path)) in BAD_VALUES.iter().enumerate() {
        let result = case(&format!("bad-{index}"))?;
        let error = result.schema_error.as_deref().unwrap_or_default();
        assert!(error.contains(path), "{bad} should be refused at {path}: {result:?}");
        assert!(!result.lint_problems.is_empty(), "helm lint flags {bad}");
        assert!(result.objects.is_empty());
    }

    // The user's values.yaml may hold only what it changes: the defaults come from the
    // generated eso-gen/defaults.yaml. An empty values.yaml renders exactly the same.
    std::fs::write(chart.join("values.yaml"), "{}\n")?;
    let empty = helm(&chart, &[("empty-values", json!({}))])?;
    let empty = empty.first().context("one case")?.ok()?;
    assert_eq!(empty.manifests, case("defaults")?.manifests);

    // A selector the user's values.yaml sets replaces the generated default whole: it is
    // never ANDed with the default labels.
    std::fs::write(
        chart.join("values.yaml"),
        "networkPolicy:\n  core:\n    namespaceSelector:\n      matchLabels:\n        team: eso\n",
    )?;
    let edited = helm(&chart, &[("edited-values", json!({}))])?;
    let edited = edited.first().context("one case")?.ok()?;
    let policy = edited.one("NetworkPolicy")?;
    assert_eq!(
        policy["spec"]["ingress"][0]["from"][0],
        json!({
            "namespaceSelector": {"matchLabels": {"team": "eso"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "external-secrets"}},
        })
    );
    assert_eq!(
        policy["spec"]["ingress"].as_array().map(Vec::len),
        Some(2),
        "metrics rule from the defaults"
    );
    Ok(())
}

#[test]
fn the_fake_chart_lints_and_renders_with_helm() -> Result<()> {
    check_chart("fake", "fake")
}

#[test]
fn the_password_chart_lints_and_renders_with_helm() -> Result<()> {
    check_chart("password", "password")
}

#[test]
fn the_vault_chart_lints_and_renders_with_helm() -> Result<()> {
    check_chart("vault", "vault")
}

/// Every map in `value` with its path of keys, parents before children.
fn map_paths(value: &Value, path: &[String], out: &mut Vec<Vec<String>>) {
    for (key, child) in value.as_object().into_iter().flatten() {
        if child.is_object() {
            let mut at = path.to_vec();
            at.push(key.clone());
            out.push(at.clone());
            map_paths(child, &at, out);
        }
    }
}

/// Whether the schema lists the keys of the value at `path`: a section of settings.
fn is_section(schema: &Value, path: &[String]) -> bool {
    let mut at = schema;
    for key in path {
        at = &at["properties"][key];
    }
    at.get("properties").is_some()
}

/// `{}` at `path`, wrapped in its parents.
fn empty_at(path: &[String]) -> Value {
    path.iter().rev().fold(json!({}), |inner, key| json!({ key: inner }))
}

/// The merge the templates see, for every map the defaults have, with nothing kept in a list
/// here or in the chart: given as `{}` (on an empty values.yaml), a section of settings (an
/// object whose keys the schema lists) keeps every default key, and any other map (a
/// Kubernetes object such as a label selector or `resources`, a free-form map) replaces the
/// default whole. So a section added to values.yaml.hbs and values.schema.json.hbs reaches
/// the templates with its defaults, merged key by key, without being listed anywhere.
#[test]
fn every_value_section_merges_key_by_key_and_other_maps_replace_the_default() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("chart");
    generate("fake", "fake", &chart)?;
    std::fs::write(chart.join("values.yaml"), "{}\n")?;
    std::fs::write(
        chart.join("templates/values-user.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: effective-values\ndata:\n  values.json: {{ include \"eso-gen.values\" . | quote }}\n",
    )?;
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(chart.join("values.schema.json"))?)?;
    let defaults: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart.join("eso-gen/defaults.yaml"))?)?;
    let defaults = numbers_as_floats(serde_json::to_value(defaults)?);
    let mut paths = Vec::new();
    map_paths(&defaults, &[], &mut paths);

    let mut cases: Vec<(String, Value)> = vec![("nothing".into(), json!({}))];
    for path in &paths {
        cases.push((path.join("."), empty_at(path)));
    }
    let borrowed: Vec<(&str, Value)> = cases.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let results = helm(&chart, &borrowed)?;
    let effective = |case: &Case| -> Result<Value> {
        case.ok()?;
        let text = case.one("ConfigMap")?["data"]["values.json"]
            .as_str()
            .context("values.json")?
            .to_string();
        Ok(numbers_as_floats(serde_json::from_str(&text)?))
    };
    assert_eq!(
        effective(&results[0])?,
        defaults,
        "an empty values.yaml gets every default"
    );

    let mut sections = Vec::new();
    for (path, case) in paths.iter().zip(&results[1..]) {
        // The first value on the path that is not a section is replaced by what was given.
        let replaced = (1..=path.len()).find(|&len| !is_section(&schema, &path[..len]));
        let mut expected = defaults.clone();
        match replaced {
            None => sections.push(path.join(".")),
            Some(len) => {
                let pointer: String = path[..len].iter().map(|key| format!("/{key}")).collect();
                let slot = expected.pointer_mut(&pointer).context("the path is in the defaults")?;
                *slot = empty_at(&path[len..]);
            }
        }
        assert_eq!(effective(case)?, expected, "{} given as {{}}", path.join("."));
    }
    // What the rule gives today, pinned: settings sections merge, Kubernetes objects do not.
    for section in [
        "image",
        "networkPolicy",
        "networkPolicy.core",
        "networkPolicy.metrics",
        "certManager.issuerRef",
    ] {
        assert!(
            sections.iter().any(|s| s == section),
            "{section} is a section: {sections:?}"
        );
    }
    for whole in [
        "resources",
        "networkPolicy.core.namespaceSelector",
        "networkPolicy.metrics.podSelector",
        "podAnnotations",
        "serviceAccount.annotations",
    ] {
        assert!(paths.iter().any(|p| p.join(".") == whole), "{whole} is in the defaults");
        assert!(
            !sections.iter().any(|s| s == whole),
            "{whole} is replaced whole: {sections:?}"
        );
    }
    Ok(())
}

/// Every example chart committed is what `eso-gen chart` generates now; fake, password and
/// vault have one.
#[test]
fn the_committed_example_charts_are_in_sync() -> Result<()> {
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(workspace().join("examples"))? {
        let dir = entry?.path();
        let chart = dir.join("chart");
        if !dir.join("Cargo.toml").is_file() || !chart.is_dir() {
            continue;
        }
        let example = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("example name")?
            .to_string();
        let manifest = example_manifest(&example)?;
        let out = chart.to_str().context("path")?;
        let (ok, text) = eso_gen(&["chart", "--check", "--manifest-path", &manifest, "--out", out])?;
        ensure!(
            ok,
            "examples/{example}/chart is out of date; regenerate it with `eso-gen chart --manifest-path examples/{example}/Cargo.toml --out examples/{example}/chart`:\n{text}"
        );
        assert!(text.contains("up to date"), "{text}");
        checked.push(example);
    }
    for required in ["fake", "password", "vault"] {
        assert!(
            checked.iter().any(|c| c == required),
            "examples/{required} has no chart: run `eso-gen chart --manifest-path examples/{required}/Cargo.toml --out examples/{required}/chart --name {required}`"
        );
    }
    Ok(())
}

#[test]
fn regenerating_keeps_the_users_files_and_check_reports_drift() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("chart");
    let out = chart.to_str().context("path")?.to_string();
    let fake = example_manifest("fake")?;
    generate("fake", "fake", &chart)?;
    let check = || eso_gen(&["chart", "--check", "--manifest-path", &fake, "--out", &out]);
    let regenerate = || eso_gen(&["chart", "--manifest-path", &fake, "--out", &out]);
    let (ok, text) = check()?;
    assert!(ok && text.contains("up to date"), "{text}");

    let generated_list = std::fs::read_to_string(chart.join("eso-gen/generated.txt"))?;
    for path in [
        "Chart.yaml",
        "templates/deployment.yaml",
        "values.schema.json",
        "eso-gen/defaults.yaml",
    ] {
        assert!(generated_list.lines().any(|l| l == path), "{path} listed");
        assert!(std::fs::read_to_string(chart.join(path))?.contains("Generated by `eso-gen chart`"));
    }
    assert!(
        !generated_list.lines().any(|l| l == "values.yaml"),
        "values.yaml is the user's"
    );

    // The user's files: edited values.yaml, own templates.
    let values = "# mine\nreplicaCount: 3\n";
    std::fs::write(chart.join("values.yaml"), values)?;
    std::fs::create_dir_all(chart.join("templates/extra"))?;
    std::fs::write(chart.join("templates/extra/configmap.yaml"), "kind: ConfigMap\n")?;
    std::fs::write(chart.join("templates/secret-user.yaml"), "kind: Secret\n")?;
    // A generated template edited by hand is drift: reported by --check, repaired by a run.
    let deployment = chart.join("templates/deployment.yaml");
    let original = std::fs::read_to_string(&deployment)?;
    std::fs::write(&deployment, "edited")?;
    let (ok, text) = check()?;
    assert!(!ok, "{text}");
    assert!(
        text.contains("out of date") && text.contains("deployment.yaml"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&deployment)?,
        "edited",
        "--check writes nothing"
    );

    // No --name: the name the chart was generated with is kept.
    let (ok, text) = regenerate()?;
    assert!(ok, "{text}");
    assert_eq!(std::fs::read_to_string(&deployment)?, original);
    assert!(std::fs::read_to_string(chart.join("eso-gen/provider.yaml"))?.contains("\nname: fake\n"));
    assert_eq!(std::fs::read_to_string(chart.join("values.yaml"))?, values);
    assert_eq!(
        std::fs::read_to_string(chart.join("templates/extra/configmap.yaml"))?,
        "kind: ConfigMap\n"
    );
    assert_eq!(
        std::fs::read_to_string(chart.join("templates/secret-user.yaml"))?,
        "kind: Secret\n"
    );
    let (ok, text) = check()?;
    assert!(ok, "{text}");

    // A file generated before and no longer generated is removed, unless the user edited
    // it (dropped the marker), and a listed path outside the chart is never touched.
    let list = chart.join("eso-gen/generated.txt");
    let mut listed = std::fs::read_to_string(&list)?;
    listed.push_str("templates/old.yaml\ntemplates/kept.yaml\n../outside.yaml\n");
    std::fs::write(&list, listed)?;
    std::fs::write(
        chart.join("templates/old.yaml"),
        "{{/* Generated by `eso-gen chart`; do not edit. */}}\n",
    )?;
    std::fs::write(chart.join("templates/kept.yaml"), "# mine now\n")?;
    std::fs::write(dir.path().join("outside.yaml"), "Generated by `eso-gen chart`\n")?;
    let (ok, text) = check()?;
    assert!(!ok && text.contains("stale") && text.contains("old.yaml"), "{text}");
    let (ok, text) = regenerate()?;
    assert!(ok, "{text}");
    assert!(!chart.join("templates/old.yaml").exists());
    assert!(chart.join("templates/kept.yaml").exists());
    assert!(dir.path().join("outside.yaml").exists());

    // A missing user-owned file is written again (and --check reports it first).
    std::fs::remove_file(chart.join("values.yaml"))?;
    let (ok, text) = check()?;
    assert!(!ok && text.contains("missing"), "{text}");
    let (ok, text) = regenerate()?;
    assert!(ok, "{text}");
    assert!(std::fs::read_to_string(chart.join("values.yaml"))?.contains("This file is yours"));
    Ok(())
}

#[test]
fn a_bad_name_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("chart");
    let fake = example_manifest("fake")?;
    let (ok, text) = eso_gen(&[
        "chart",
        "--manifest-path",
        &fake,
        "--name",
        "Not_A_Name",
        "--out",
        out.to_str().context("path")?,
    ])?;
    assert!(!ok);
    assert!(text.contains("not a valid provider name"), "{text}");
    assert!(!out.exists(), "nothing written");
    Ok(())
}
