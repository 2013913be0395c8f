//! `eso-gen call`: calls one RPC of a running provider the way ESO core does
//! (`host:port` without a scheme, mutual TLS, a deadline) and prints the answer.
//!
//! The method, its request and its response types come from the descriptor set,
//! so every RPC of both services works without code per method: the request is a
//! [`prost_reflect::DynamicMessage`] built from JSON and flags, sent with
//! [`tonic::client::Grpc::unary`] and the [`DynamicCodec`].

use crate::codec::DynamicCodec;
use crate::methods::{self, Catalog};
use crate::{json, request, status};
use anyhow::{Context, anyhow, bail};
use eso_runtime::ErrorKind;
use eso_runtime::client::{ClientTls, ProviderClient, error_chain};
use prost_reflect::{DynamicMessage, Kind, MethodDescriptor};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio::time::Instant;
use tonic::Status;
use tonic::transport::Channel;

/// How often `--wait` retries connecting.
const RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// Arguments of `eso-gen call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The provider's `host:port` without a scheme, as ESO core dials it, e.g.
    /// `provider-vault.eso.svc:8080` or `localhost:8080`. With TLS, the server
    /// certificate must carry the host.
    address: String,
    /// The RPC: GetSecret, GetSecretMap, GetAllSecrets, PushSecret, DeleteSecret,
    /// SecretExists, Validate, Capabilities, Generate, Cleanup, or a full name such
    /// as `provider.v1.SecretStoreProvider/GetSecret`.
    method: String,
    /// A folder with the client's `ca.crt`, `tls.crt` and `tls.key`, e.g.
    /// `certs/client` written by `eso-gen certs`.
    #[arg(long, value_name = "DIR")]
    certs: Option<PathBuf>,
    /// Connect without TLS: only for providers started with `--insecure-plaintext`.
    #[arg(long, conflicts_with = "certs")]
    plaintext: bool,
    /// The request as proto3 JSON (field names in camelCase or as in the .proto;
    /// bytes as base64).
    #[arg(long, value_name = "JSON", conflicts_with = "json_file")]
    json: Option<String>,
    /// A file holding the request as proto3 JSON; `-` reads standard input.
    #[arg(long, value_name = "PATH")]
    json_file: Option<PathBuf>,
    /// GetSecret: print only the value's bytes (no JSON, no newline), for scripts.
    #[arg(long)]
    raw_value: bool,
    /// The call's deadline, sent as `grpc-timeout` (ESO core uses 30s).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = eso_runtime::util::parse_duration)]
    timeout: Duration,
    /// Retry connecting for up to this long while the provider starts (the call
    /// itself is not retried).
    #[arg(long, value_name = "DURATION", value_parser = eso_runtime::util::parse_duration)]
    wait: Option<Duration>,
    /// Flags that fill request fields (last, so their help heading ends the list).
    #[command(flatten)]
    fields: request::FieldFlags,
}

/// Why a call did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The call could not be made: arguments, files, input.
    Usage(anyhow::Error),
    /// The provider could not be reached.
    Connect(String),
    /// The provider answered with an error.
    Status(Status),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Usage(error)
    }
}

/// Runs `eso-gen call` and returns the exit code: 0 success, 1 the provider
/// answered with an error, 2 the call could not be made.
pub fn run(args: CallArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(call(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Status(status)) => {
            eprintln!("error: {}: {}", status::describe(status.code()), status.message());
            ExitCode::from(1)
        }
        Err(Failure::Connect(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Usage(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn call(args: &CallArgs) -> Result<(), Failure> {
    let catalog = Catalog::load()?;
    let method = catalog.find(&args.method)?;
    if args.raw_value {
        check_raw_value(&method)?;
    }
    if args.timeout.is_zero() {
        return Err(anyhow!("--timeout must be longer than 0s").into());
    }
    let json = read_json(args)?;
    let message = request::build(&method.input(), method.name(), json.as_deref(), &args.fields)?;
    let tls = client_tls(args)?;
    let client = connect(&args.address, tls.as_ref(), args.wait).await?;
    let response = send(client.channel, &method, message, args).await?;
    print(&response, args.raw_value)?;
    Ok(())
}

/// `--raw-value` needs a response with a `bytes value` field (GetSecret's).
fn check_raw_value(method: &MethodDescriptor) -> anyhow::Result<()> {
    let output = method.output();
    match output.get_field_by_name("value") {
        Some(field) if matches!(field.kind(), Kind::Bytes) && !field.is_list() => Ok(()),
        _ => bail!(
            "--raw-value prints the value of a GetSecret response; {} answers with {}, which has no bytes field value",
            method.name(),
            output.full_name()
        ),
    }
}

/// The request JSON from `--json` or `--json-file`, if any.
fn read_json(args: &CallArgs) -> anyhow::Result<Option<String>> {
    match (&args.json, &args.json_file) {
        (Some(text), _) => Ok(Some(text.clone())),
        (None, Some(path)) if path == Path::new("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the request JSON from standard input")?;
            Ok(Some(text))
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --json-file {}", path.display()))
            .map(Some),
        (None, None) => Ok(None),
    }
}

/// The client's certificates, or none with `--plaintext`; one of them is required.
fn client_tls(args: &CallArgs) -> anyhow::Result<Option<ClientTls>> {
    match (&args.certs, args.plaintext) {
        (Some(dir), _) => ClientTls::from_dir(dir)
            .map(Some)
            .map_err(|error| anyhow!("--certs {}: {error}", dir.display())),
        (None, true) => Ok(None),
        (None, false) => bail!(
            "no --certs DIR given: pass the folder with the client's ca.crt, tls.crt and tls.key \
             (e.g. certs/client from eso-gen certs), or --plaintext for a provider started with --insecure-plaintext"
        ),
    }
}

/// Connects, retrying while the provider is unreachable for up to `wait`.
pub(crate) async fn connect(
    address: &str,
    tls: Option<&ClientTls>,
    wait: Option<Duration>,
) -> Result<ProviderClient, Failure> {
    let deadline = wait.map(|wait| Instant::now() + wait);
    loop {
        match ProviderClient::connect(address, tls).await {
            Ok(client) => return Ok(client),
            Err(error) if error.kind() == ErrorKind::Unavailable => {
                if deadline.is_some_and(|deadline| Instant::now() + RETRY_INTERVAL < deadline) {
                    tokio::time::sleep(RETRY_INTERVAL).await;
                    continue;
                }
                let waited = wait
                    .map(|wait| format!(" (kept trying for {}s)", wait.as_secs_f64()))
                    .unwrap_or_default();
                return Err(Failure::Connect(format!("{error}{waited}")));
            }
            Err(error) => return Err(Failure::Usage(anyhow!(error))),
        }
    }
}

/// Sends one unary call with `--timeout` as its gRPC deadline.
async fn send(
    channel: Channel,
    method: &MethodDescriptor,
    message: DynamicMessage,
    args: &CallArgs,
) -> Result<DynamicMessage, Failure> {
    let timeout = args.timeout;
    let path = http::uri::PathAndQuery::try_from(methods::path(method))
        .map_err(|error| anyhow!("method path {}: {error}", methods::path(method)))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Failure::Connect(format!("cannot reach {}: {}", args.address, error_chain(&error))))?;
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    let call = grpc.unary(request, path, DynamicCodec::new(method.output()));
    let started = Instant::now();
    let exceeded = || {
        Failure::Status(Status::deadline_exceeded(format!(
            "no answer within the {}s deadline",
            timeout.as_secs_f64()
        )))
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        // tonic servers cancel a call whose deadline passed; a gRPC client reports
        // that as DEADLINE_EXCEEDED, as ESO core would see it.
        Ok(Err(status)) if status.code() == tonic::Code::Cancelled && started.elapsed() >= timeout => Err(exceeded()),
        Ok(Err(status)) => Err(classify(status, args)),
        Err(_) => Err(exceeded()),
    }
}

/// A status the transport made up (it carries a cause) means the provider was not
/// reached; a status without one is the provider's answer.
fn classify(status: Status, args: &CallArgs) -> Failure {
    let Some(cause) = std::error::Error::source(&status) else {
        return Failure::Status(status);
    };
    let cause = error_chain(cause);
    let detail = if cause.contains(status.message()) {
        cause
    } else {
        format!("{}: {cause}", status.message())
    };
    let mut message = format!("cannot reach {}: {detail}", args.address);
    if args.plaintext {
        message.push_str(
            "; the provider may require TLS (the default): pass --certs DIR with the client's certificates instead of --plaintext",
        );
    } else {
        message.push_str(
            "; if the provider refused our certificate, check that --certs DIR holds a client certificate signed by the provider's CA",
        );
    }
    Failure::Connect(message)
}

/// Prints the response as JSON, or only GetSecret's value with `--raw-value`.
fn print(response: &DynamicMessage, raw_value: bool) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if raw_value {
        let value = response
            .get_field_by_name("value")
            .context("the response has no value")?;
        let bytes = value.as_bytes().context("the response's value is not bytes")?;
        stdout.write_all(bytes).context("writing to standard output")?;
    } else {
        let text = json::render_pretty(response)?;
        writeln!(stdout, "{text}").context("writing to standard output")?;
    }
    stdout.flush().context("writing to standard output")
}
