//! Hostile keys and paths, through every RPC that takes one, against a real OpenBao
//! (with a file audit device) behind a recording loopback relay: each is refused with
//! INVALID_ARGUMENT (FAILED_PRECONDITION for a spec's paths) and a bounded, escaped
//! message, before any request leaves the provider. And a redirect from "Vault" is
//! reported as what it is, never followed.

mod common;

use common::relay::Relay;
use common::*;
use serde_json::json;
use tonic::Code;

const VALUE: &str = "do-not-leak-this-value";

/// Keys that hide a `..` (or a `.`) from a naive check, spell it percent-encoded,
/// use backslashes, or are merely hostile to logs: (label, key).
fn hostile_keys() -> Vec<(&'static str, String)> {
    let mut keys: Vec<(&'static str, String)> = [
        ("..\\t", "..\t"),
        ("..\\r", "..\r"),
        ("..\\n", "..\n"),
        ("\\t..", "\t.."),
        ("..\\t/config", "..\t/config"),
        ("..\\t/..\\t/sys/mounts", "..\t/..\t/sys/mounts"),
        ("a/..\\t/b", "a/..\t/b"),
        ("ok/..\\n", "ok/..\n"),
        (".%2e", ".%2e"),
        ("%2e%2e", "%2e%2e"),
        ("%2E%2E/sys/mounts", "%2E%2E/sys/mounts"),
        ("a/%2e/b", "a/%2e/b"),
        ("..\\\\sys\\\\mounts", "..\\sys\\mounts"),
        ("a\\\\..\\\\..\\\\b", "a\\..\\..\\b"),
        ("\\\\..", "\\.."),
        ("ANSI escapes", "\u{1b}[31mred\u{1b}[0m/\u{1b}]0;title\u{7}x"),
        ("DEL and C1", "a\u{7f}/b\u{85}"),
    ]
    .into_iter()
    .map(|(label, key)| (label, key.to_string()))
    .collect();
    keys.push(("1 MiB key", "k".repeat(1 << 20)));
    keys
}

/// The call must fail with `code`, its message naming `field`, under 1 KiB, with no
/// raw control character, no value and no token.
fn refused<T: std::fmt::Debug>(what: &str, result: Result<T, tonic::Status>, code: Code, field: &str) -> TestResult {
    let message = expect_status(what, result, code, &[field, "is refused"])?;
    check!(message.len() < 1024, "{what}: the message is {} bytes", message.len());
    check!(
        !message.chars().any(char::is_control),
        "{what}: the message holds a control character: {message:?}"
    );
    check!(
        !message.contains(VALUE) && !message.contains(ROOT_TOKEN),
        "{what}: the message leaks: {message}"
    );
    Ok(())
}

#[tokio::test]
async fn hostile_keys_are_refused_before_any_request() -> TestResult {
    let bao = Bao::start_audited().await?;
    bao.kv_put("ok", json!({"a": VALUE})).await?;
    bao.kv_put("config", json!({"a": VALUE})).await?;
    let relay = Relay::forward(&bao.address).await?;
    let manifests = [
        vault_object("default", "backend", &token_spec(&relay.address, "")),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;

    // The relay and the audit log see what the provider sends: a clean key shows up in both.
    let read = get(&mut client, vault("default", "backend").get("ok", "", "a")).await;
    check_eq!(read.map_err(|s| s.to_string())?, VALUE, "a clean key is read");
    let sent = relay.requests();
    check!(
        sent.iter().any(|r| r == "GET /v1/secret/data/ok"),
        "the relay recorded the read: {sent:?}"
    );
    let audited = bao.audited()?;
    check!(
        audited.iter().any(|r| r == "read secret/data/ok"),
        "the audit log recorded the read: {audited:?}"
    );

    for (label, key) in hostile_keys() {
        let store = &mut client.store;
        let what = |rpc: &str| format!("{rpc} of {label}");
        refused(
            &what("GetSecret"),
            store.get_secret(vault("default", "backend").get(&key, "", "")).await,
            Code::InvalidArgument,
            "remote_ref.key",
        )?;
        refused(
            &what("GetSecret with a version and a property"),
            store.get_secret(vault("default", "backend").get(&key, "1", "a")).await,
            Code::InvalidArgument,
            "remote_ref.key",
        )?;
        refused(
            &what("GetSecretMap"),
            store
                .get_secret_map(vault("default", "backend").get_map(&key, "", ""))
                .await,
            Code::InvalidArgument,
            "remote_ref.key",
        )?;
        let mut fetch = vault("default", "backend").get_map(&key, "", "");
        if let Some(remote) = fetch.remote_ref.as_mut() {
            remote.metadata_policy = "Fetch".into();
        }
        refused(
            &what("GetSecretMap with metadata policy Fetch"),
            store.get_secret_map(fetch).await,
            Code::InvalidArgument,
            "remote_ref.key",
        )?;
        refused(
            &what("GetAllSecrets"),
            store
                .get_all_secrets(vault("default", "backend").find(&key, "", &[]))
                .await,
            Code::InvalidArgument,
            "find.path",
        )?;
        refused(
            &what("GetAllSecrets with a folder"),
            store
                .get_all_secrets(vault("default", "backend").find(&format!("{key}/"), "", &[]))
                .await,
            Code::InvalidArgument,
            "find.path",
        )?;
        refused(
            &what("PushSecret"),
            store
                .push_secret(vault("default", "backend").push(&[("a", VALUE)], "a", &key, "a", ""))
                .await,
            Code::InvalidArgument,
            "remote_ref.remote_key",
        )?;
        refused(
            &what("DeleteSecret"),
            store.delete_secret(vault("default", "backend").delete(&key, "")).await,
            Code::InvalidArgument,
            "remote_ref.remote_key",
        )?;
        refused(
            &what("DeleteSecret of a property"),
            store.delete_secret(vault("default", "backend").delete(&key, "a")).await,
            Code::InvalidArgument,
            "remote_ref.remote_key",
        )?;
        refused(
            &what("SecretExists"),
            store.secret_exists(vault("default", "backend").exists(&key, "")).await,
            Code::InvalidArgument,
            "remote_ref.remote_key",
        )?;
    }
    // Not one request left the provider for them: the relay saw nothing new, nor did
    // OpenBao's audit device.
    check_eq!(relay.requests(), sent, "requests sent for hostile keys");
    check_eq!(bao.audited()?, audited, "requests OpenBao audited for hostile keys");
    check_eq!(
        bao.kv_get("config").await?,
        Some(json!({"a": VALUE})),
        "the secret next to the mount's data is untouched"
    );
    Ok(())
}

#[tokio::test]
async fn hostile_spec_paths_are_configuration_errors_before_any_request() -> TestResult {
    let bao = Bao::start_audited().await?;
    let relay = Relay::forward(&bao.address).await?;
    let hostile = [
        "secret/..\t",
        "..\r/sys",
        "secret/%2e%2e",
        "kv\\..\\sys",
        "\u{1b}[2Jsecret",
    ];
    let mut manifests = vec![
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
        secret_object("default", "approle", &[("role", "r"), ("secret", "s")]),
    ];
    let app_role = |path: &str| {
        format!(
            "  server: {}\n  auth:\n    appRole:\n      path: {}\n      roleIdRef: {{name: approle, key: role}}\n      secretIdRef: {{name: approle, key: secret}}\n",
            quoted(&relay.address),
            quoted(path)
        )
    };
    for (index, path) in hostile.iter().enumerate() {
        let mount = token_spec(&relay.address, &format!("  mount: {}\n", quoted(path)));
        manifests.push(vault_object("default", &format!("mount-{index}"), &mount));
        manifests.push(vault_object("default", &format!("approle-{index}"), &app_role(path)));
        let namespace = token_spec(&relay.address, &format!("  namespace: {}\n", quoted(path)));
        manifests.push(vault_object("default", &format!("namespace-{index}"), &namespace));
        manifests.push(token_generator_object(
            "default",
            &format!("generator-approle-{index}"),
            &app_role(path),
        ));
        manifests.push(token_generator_object(
            "default",
            &format!("generator-namespace-{index}"),
            &namespace,
        ));
    }
    let (_running, mut client) = start(&manifests.concat()).await?;
    // What OpenBao's own start-up left in the audit log.
    let audited = bao.audited()?;
    check!(!audited.is_empty(), "the audit log records requests: {audited:?}");
    for index in 0..hostile.len() {
        for (prefix, field) in [
            ("mount", "spec.mount"),
            ("approle", "spec.auth.appRole.path"),
            ("namespace", "spec.namespace"),
        ] {
            let name = format!("{prefix}-{index}");
            refused(
                &format!("GetSecret through {name}"),
                client.store.get_secret(vault("default", &name).get("k", "", "")).await,
                Code::FailedPrecondition,
                field,
            )?;
            let validation = ok(
                "Validate",
                client.store.validate(vault("default", &name).validate()).await,
            )?;
            check!(
                !validation.valid && validation.error.contains(field) && validation.error.contains("is refused"),
                "Validate of {name}: {validation:?}"
            );
        }
        for (prefix, field) in [
            ("generator-approle", "spec.auth.appRole.path"),
            ("generator-namespace", "spec.namespace"),
        ] {
            let name = format!("{prefix}-{index}");
            refused(
                &format!("Generate through {name}"),
                client
                    .generator
                    .generate(vault_token("default", &name).generate())
                    .await,
                Code::FailedPrecondition,
                field,
            )?;
        }
    }
    check_eq!(
        relay.requests(),
        Vec::<String>::new(),
        "requests sent for hostile spec paths"
    );
    check_eq!(
        bao.audited()?,
        audited,
        "requests OpenBao audited for hostile spec paths"
    );
    Ok(())
}

#[tokio::test]
async fn listed_keys_the_rules_refuse_are_never_read() -> TestResult {
    let bao = Bao::start_audited().await?;
    bao.kv_put("team/a", json!({"a": VALUE})).await?;
    bao.kv_put("team/ab", json!({"a": VALUE})).await?;
    let manifests = [
        vault_object("default", "backend", &token_spec(&bao.address, "")),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    let found = ok(
        "GetAllSecrets",
        client
            .store
            .get_all_secrets(vault("default", "backend").find("team/", "", &[]))
            .await,
    )?;
    let mut keys: Vec<&String> = found.secrets.keys().collect();
    keys.sort();
    check_eq!(
        keys,
        vec!["team/a", "team/ab"],
        "keys found before the odd one is written"
    );
    // OpenBao refuses control characters in keys but stores one with a backslash (sent
    // as %5C), which a proxy on the way may read as a '/'. The key rules refuse it: a
    // find over it fails, naming it, and reads nothing.
    bao.kv_put("team/a%5Cb", json!({"a": "backslash"})).await?;
    let listed = bao
        .api(reqwest::Method::GET, "secret/metadata/team?list=true", None)
        .await?;
    check!(
        listed.1.to_string().contains(r#""a\\b""#),
        "OpenBao lists the key with its backslash: {listed:?}"
    );
    let audited = bao.audited()?;
    let message = expect_status(
        "GetAllSecrets over a key with a backslash",
        client
            .store
            .get_all_secrets(vault("default", "backend").find("team/", "", &[]))
            .await,
        Code::FailedPrecondition,
        &[
            "Vault default/backend",
            r#"Vault lists the key "team/a\b" under secret/metadata/team/,"#,
            "it holds a backslash at byte 6",
            "rename it in Vault, or narrow find.path",
        ],
    )?;
    check!(!message.contains(VALUE), "the message leaks: {message}");
    let read_after: Vec<String> = bao.audited()?[audited.len()..]
        .iter()
        .filter(|r| r.starts_with("read secret/data/"))
        .cloned()
        .collect();
    check_eq!(read_after, Vec::<String>::new(), "secrets read for the refused find");
    Ok(())
}

/// An HTTP/1.1 redirect answer.
fn redirect(code: u16, reason: &str, location: &str) -> String {
    format!("HTTP/1.1 {code} {reason}\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

#[tokio::test]
async fn a_redirect_is_reported_and_not_followed() -> TestResult {
    // Where the redirects point: it must never be asked anything.
    let target =
        Relay::answer("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
    let absolute = format!(
        "http://user:hunter2-password@{}/v1/secret/data/k?token=hunter2-query#hunter2-fragment",
        target.authority
    );
    let temporary = Relay::answer(&redirect(307, "Temporary Redirect", &absolute)).await?;
    let permanent = Relay::answer(&redirect(
        301,
        "Moved Permanently",
        "/elsewhere/v1/x?token=hunter2-query",
    ))
    .await?;
    let manifests = [
        vault_object("default", "standby", &token_spec(&temporary.address, "")),
        vault_object("default", "moved", &token_spec(&permanent.address, "")),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    let cases = [
        (
            "standby",
            &temporary,
            "HTTP 307 Temporary Redirect",
            format!("a redirect to http://{}/v1/secret/data/k,", target.authority),
        ),
        (
            "moved",
            &permanent,
            "HTTP 301 Moved Permanently",
            format!("a redirect to {}/elsewhere/v1/x,", permanent.address),
        ),
    ];
    for (name, server, status, location) in cases {
        let message = expect_status(
            &format!("GetSecret through {name}"),
            get(&mut client, vault("default", name).get("k", "", "")).await,
            Code::FailedPrecondition,
            &[
                &format!("Vault default/{name}"),
                "reading secret/data/k",
                status,
                &location,
                "does not follow because the token would travel with it",
                "set spec.server",
            ],
        )?;
        for secret in ["hunter2", "token=", ROOT_TOKEN] {
            check!(!message.contains(secret), "the message shows {secret}: {message}");
        }
        check!(
            server.requests().iter().any(|r| r == "GET /v1/secret/data/k"),
            "{name} was asked: {:?}",
            server.requests()
        );
        let validation = ok(
            "Validate",
            client.store.validate(vault("default", name).validate()).await,
        )?;
        check!(
            !validation.valid && validation.error.contains(status) && validation.error.contains("set spec.server"),
            "Validate of {name}: {validation:?}"
        );
    }
    check_eq!(
        target.requests(),
        Vec::<String>::new(),
        "requests that followed a redirect"
    );
    Ok(())
}
