//! What a caller can make the Fake provider do with hostile requests: a `find`
//! regexp that is slow over long keys or compiles huge, log lines forged through a
//! key, request fields of a megabyte — and, with trace logging on, that no secret
//! value (nor its base64) reaches a log line or an error. Real mTLS throughout;
//! the logging tests run the real `fake-provider` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::process::Process;
use common::*;
use eso_runtime::client::with_deadline;
use std::time::Duration;
use tonic::Code;

/// 200 keys of ~5,000 characters: `(?:a{1,40}){1,40}#` takes ~25 s over them.
fn long_keys_object() -> String {
    let entries: String = (0..200)
        .map(|i| format!("    - key: {}{i}\n      value: v{i}\n", "a".repeat(5000)))
        .collect();
    fake_object(
        "default",
        "long",
        &format!("  data:\n{entries}    - key: hello\n      value: world"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_find_regexp_does_not_stall_other_callers_and_stops_at_its_deadline() -> TestResult {
    let (provider, client) = start(&long_keys_object()).await?;
    // Four slow finds, each with a 2 s deadline, at once.
    let finds: Vec<_> = (0..4)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let request = fake("default", "long").find("", "(?:a{1,40}){1,40}#", &[]);
                client
                    .store
                    .get_all_secrets(with_deadline(request, Duration::from_secs(2)))
                    .await
                    .map(|r| r.into_inner().secrets.len())
                    .map_err(|s| s.code())
            })
        })
        .collect();
    // Meanwhile every GetSecret is answered within its own 2 s deadline.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut other = client.clone();
    for _ in 0..20 {
        let value = other
            .store
            .get_secret(with_deadline(
                fake("default", "long").get("hello", "", ""),
                Duration::from_secs(2),
            ))
            .await
            .map(|r| r.into_inner().value);
        check_eq!(
            value.map_err(|s| s.code()),
            Ok(b"world".to_vec()),
            "GetSecret during the finds"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for find in finds {
        let result = find.await.map_err(|e| format!("task: {e}"))?;
        check!(
            matches!(result, Err(Code::DeadlineExceeded | Code::Cancelled)),
            "a slow find ends at its deadline: {result:?}"
        );
    }
    // The matching stopped with its callers: the pool is free for an ordinary find
    // (which would otherwise wait behind ~25 s of work per slow find).
    let mut again = client.clone();
    let found = again
        .store
        .get_all_secrets(with_deadline(
            fake("default", "long").find("", "^hel+o$", &[]),
            Duration::from_secs(5),
        ))
        .await
        .map(|r| text_map(r.into_inner().secrets));
    check_eq!(
        found.map_err(|s| s.code()),
        Ok(Ok(pairs(&[("hello", "world")]))),
        "an ordinary find after the slow ones"
    );
    Ok(provider.stop().await?)
}

#[tokio::test]
async fn a_regexp_that_compiles_too_big_is_invalid_argument_naming_the_limit() -> TestResult {
    let (provider, mut client) = start(&long_keys_object()).await?;
    let status = client
        .store
        .get_all_secrets(fake("default", "long").find("", r"(?:[\w\W]{1,200}){1,50}#", &[]))
        .await
        .err()
        .ok_or("accepted")?;
    check_eq!(status.code(), Code::InvalidArgument, "code");
    check!(
        status
            .message()
            .contains(&eso_runtime::server::REGEXP_SIZE_LIMIT.to_string()),
        "names the limit: {}",
        status.message()
    );
    Ok(provider.stop().await?)
}

#[tokio::test]
async fn text_logs_cannot_be_forged_and_do_not_grow_with_request_fields() -> TestResult {
    let mut process = Process::dev(&common::process::manifests())?;
    let mut client = process.connect().await?;
    let forged = "nope\n2026-12-01T00:00:00.000000Z  INFO eso_runtime: forged line\u{1b}[2J";
    let status = get(&mut client, fake("default", "fake").get(forged, "", "")).await;
    check_eq!(status.map_err(|s| s.code()), Err(Code::NotFound), "forged key");
    let huge = "k".repeat(1024 * 1024);
    for _ in 0..7 {
        let status = get(&mut client, fake("default", &huge).get(&huge, "", "")).await;
        check_eq!(
            status.map_err(|s| s.code()),
            Err(Code::FailedPrecondition),
            "1 MiB name"
        );
    }
    process.sigterm()?;
    let exit = process.exit_status().await?;
    check!(exit.success(), "exit: {exit}");
    let log = process.log();
    check!(
        !log.lines().any(|line| line.starts_with("2026-12-01T00:00:00")),
        "a key started a log line:\n{log}"
    );
    check!(log.contains("forged line"), "the key is logged, escaped:\n{log}");
    check!(!log.contains('\u{1b}'), "an escape sequence reached the log");
    check!(
        log.len() < 256 * 1024,
        "7 calls with 1 MiB fields grew the log to {} bytes",
        log.len()
    );
    Ok(())
}

/// Values only these tests put into the Fake, so any sight of one is a leak.
const SPEC_VALUE: &str = "spec-s3cr3t-0f5c";
const OLD_VALUE: &str = "old-s3cr3t-77ad";
const JSON_VALUE: &str = "json-s3cr3t-19be";
const PUSHED_VALUE: &str = "pushed-s3cr3t-c2d4";
const GENERATED_VALUE: &str = "generated-s3cr3t-a9e1";

fn leak_manifests() -> String {
    [
        fake_object(
            "default",
            "fake",
            &format!(
                "  data:\n    - key: hello\n      value: {SPEC_VALUE}\n    - key: hello\n      version: v1\n      value: {OLD_VALUE}\n    - key: db\n      value: '{{\"password\":\"{JSON_VALUE}\"}}'\n      tags: {{env: prod}}"
            ),
        ),
        generator_object("default", "gen", &format!("  data:\n    token: {GENERATED_VALUE}")),
    ]
    .concat()
}

#[tokio::test]
async fn with_trace_logging_no_secret_value_reaches_a_log_line_or_an_error() -> TestResult {
    let mut process = Process::dev_logging(&leak_manifests(), "trace")?;
    let mut client = process.connect().await?;
    let store = fake("default", "fake");
    let mut errors = Vec::new();
    let mut note = |result: Result<(), tonic::Status>| {
        if let Err(status) = result {
            errors.push(status.message().to_string());
        }
    };
    let c = &mut client.store;
    note(c.get_secret(store.get("hello", "", "")).await.map(|_| ()));
    note(c.get_secret(store.get("hello", "v1", "")).await.map(|_| ()));
    note(c.get_secret(store.get("db", "", "password")).await.map(|_| ()));
    note(c.get_secret(store.get("hello", "", "password")).await.map(|_| ())); // not JSON
    note(c.get_secret(store.get("db", "", "missing")).await.map(|_| ())); // no property
    note(c.get_secret(store.get("db", "v9", "")).await.map(|_| ())); // no version
    note(c.get_secret_map(store.get_map("db", "", "")).await.map(|_| ()));
    note(c.get_secret_map(store.get_map("hello", "", "")).await.map(|_| ())); // not JSON
    note(c.get_all_secrets(store.find("", ".*", &[])).await.map(|_| ()));
    note(
        c.get_all_secrets(store.find("", "", &[("env", "prod")]))
            .await
            .map(|_| ()),
    );
    note(
        c.push_secret(store.push(&[("password", PUSHED_VALUE)], "password", "pushed", "", ""))
            .await
            .map(|_| ()),
    );
    note(
        c.push_secret(store.push(&[("password", PUSHED_VALUE)], "missing", "pushed", "", ""))
            .await
            .map(|_| ()),
    );
    note(
        c.push_secret(store.push(&[("password", PUSHED_VALUE)], "password", "x", "", "{not json"))
            .await
            .map(|_| ()),
    );
    note(c.get_secret(store.get("pushed", "", "")).await.map(|_| ()));
    note(c.secret_exists(store.exists("pushed", "")).await.map(|_| ()));
    note(c.delete_secret(store.delete("pushed", "")).await.map(|_| ()));
    note(c.validate(store.validate()).await.map(|_| ()));
    note(c.capabilities(store.capabilities()).await.map(|_| ()));
    let generated = client
        .generator
        .generate(fake_generator("default", "gen").generate())
        .await
        .map(|r| r.into_inner());
    let state = match generated {
        Ok(response) => {
            check_eq!(
                response.secrets.get("token").map(Vec::as_slice),
                Some(GENERATED_VALUE.as_bytes()),
                "generated"
            );
            response.state
        }
        Err(status) => return Err(format!("Generate: {status}").into()),
    };
    let g = &mut client.generator;
    note(
        g.cleanup(fake_generator("default", "gen").cleanup(state))
            .await
            .map(|_| ()),
    );
    note(
        g.cleanup(fake_generator("default", "gen").cleanup(b"{broken".to_vec()))
            .await
            .map(|_| ()),
    );
    check_eq!(errors.len(), 7, "the calls meant to fail failed: {errors:?}");
    process.sigterm()?;
    process.exit_status().await?;
    let log = process.log();
    check!(
        log.contains("GetSecret") && log.contains("TRACE"),
        "trace logging was on"
    );
    for value in [SPEC_VALUE, OLD_VALUE, JSON_VALUE, PUSHED_VALUE, GENERATED_VALUE] {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        for (what, text) in [("log", log.as_str()), ("errors", errors.join("\n").as_str())] {
            check!(!text.contains(value), "{what} contains the value {value}");
            check!(!text.contains(&encoded), "{what} contains the base64 of {value}");
        }
    }
    Ok(())
}
