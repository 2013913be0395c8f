//! The provider binary's command line: flags and environment variables per ESO's
//! conventions, `--dev` for a laptop, and the serve loop with signal handling.

use super::limits::Limits;
use super::logging::LogFormat;
use super::{Settings, Transport};
use crate::source::Source;
use crate::source::files::FilesSource;
use crate::source::kube::{KubeSettings, KubeSource, WatchScope};
use crate::tls::issue::CertificateSet;
use crate::tls::{CertPaths, ExpectedNames};
use crate::units::{parse_bytes, parse_duration};
use crate::{Error, Provider, Result};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The provider binary's command line: serve (the default) or describe itself.
#[derive(Debug, clap::Parser)]
#[command(
    args_conflicts_with_subcommands = true,
    about = "An External Secrets Operator provider built with eso-gen: serves ESO core over gRPC with mutual TLS."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Serve gRPC with mutual TLS (the default when no subcommand is given).
    Serve(Box<ServeArgs>),
    /// Print the provider manifest as JSON: kinds, CRDs, capabilities, permissions, ports.
    Manifest,
    /// Print every CRD as multi-document YAML.
    Crds,
}

/// Flags of the provider binary; most also read an environment variable.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    /// gRPC port (`--port`, as upstream's provider binaries call it, is the same flag).
    #[arg(long, visible_alias = "port", env = "GRPC_PORT", default_value_t = crate::manifest::DEFAULT_PORTS.grpc)]
    pub grpc_port: u16,
    /// HTTP port for /metrics, /healthz and /readyz.
    #[arg(long, env = "METRICS_PORT", default_value_t = crate::manifest::DEFAULT_PORTS.metrics)]
    pub metrics_port: u16,
    /// Address to listen on (default 0.0.0.0; 127.0.0.1 with --dev).
    #[arg(long, env = "BIND_ADDRESS")]
    pub bind_address: Option<IpAddr>,
    /// Folder with ca.crt, tls.crt and tls.key.
    #[arg(long, env = "TLS_CERT_DIR", default_value = "/etc/provider/certs")]
    pub tls_cert_dir: PathBuf,
    /// CA file, instead of <tls-cert-dir>/ca.crt.
    #[arg(long, env = "TLS_CA_CERT_FILE")]
    pub tls_ca_cert_file: Option<PathBuf>,
    /// Certificate file, instead of <tls-cert-dir>/tls.crt.
    #[arg(long, env = "TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// Key file, instead of <tls-cert-dir>/tls.key.
    #[arg(long, env = "TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// Serve gRPC without TLS. Anyone who can reach the port can read secrets.
    #[arg(long, env = "INSECURE_PLAINTEXT")]
    pub insecure_plaintext: bool,
    /// The Service ESO core dials (e.g. provider-vault); its names are checked against the certificate.
    #[arg(long, env = "SERVICE_NAME")]
    pub service_name: Option<String>,
    /// This pod's namespace.
    #[arg(long, env = "POD_NAMESPACE")]
    pub namespace: Option<String>,
    /// The cluster's DNS domain.
    #[arg(long, env = "CLUSTER_DOMAIN", default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Accept only client certificates whose CN or a DNS SAN is this name (repeatable;
    /// e.g. external-secrets-controller). Without it, any certificate from the CA is accepted.
    #[arg(long = "tls-allowed-client", env = "TLS_ALLOWED_CLIENTS", value_delimiter = ',')]
    pub tls_allowed_clients: Vec<String>,
    /// Another name the server certificate must carry (repeatable).
    #[arg(long = "tls-expected-name")]
    pub tls_expected_names: Vec<String>,
    /// How often certificate and manifest files are checked for changes.
    #[arg(long, env = "RELOAD_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub reload_interval: Duration,
    /// After SIGTERM, how long to keep serving while reporting not ready, so that
    /// Kubernetes removes the pod from the Service before connections are refused.
    #[arg(long, env = "SHUTDOWN_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub shutdown_delay: Duration,
    /// How long in-flight calls may take to finish after SIGTERM.
    #[arg(long, env = "SHUTDOWN_GRACE_PERIOD", default_value = "25s", value_parser = parse_duration)]
    pub shutdown_grace_period: Duration,
    /// Read provider objects and Secrets from this folder of YAML manifests (reloaded on
    /// change) instead of the Kubernetes API.
    #[arg(long, env = "MANIFESTS_DIR")]
    pub manifests: Option<PathBuf>,
    /// Namespaces whose provider objects are watched (comma-separated); empty means every
    /// namespace. Only with the Kubernetes API as the source.
    #[arg(long, env = "WATCH_NAMESPACES", value_delimiter = ',')]
    pub watch_namespaces: Vec<String>,
    /// Development mode: make an ephemeral CA, server and client certificate, and listen on 127.0.0.1.
    #[arg(long)]
    pub dev: bool,
    /// Where --dev writes its certificates (client side in <dir>/client).
    #[arg(long, default_value = ".eso-dev")]
    pub dev_dir: PathBuf,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Streams one connection may have open at once (advertised to clients).
    #[arg(long, env = "MAX_CONCURRENT_STREAMS", default_value_t = Limits::default().max_concurrent_streams)]
    pub max_concurrent_streams: u32,
    /// Calls handled at once over all connections; more are answered RESOURCE_EXHAUSTED at once.
    #[arg(long = "max-in-flight-calls", env = "MAX_IN_FLIGHT_CALLS", default_value_t = Limits::default().max_in_flight)]
    pub max_in_flight_calls: usize,
    /// Request bytes all calls in flight may hold together, beyond the first 16 KiB of each
    /// (e.g. 32Mi, 512Ki or a number of bytes); more are answered RESOURCE_EXHAUSTED.
    #[arg(long, env = "MAX_REQUEST_MEMORY", default_value = "16Mi", value_parser = parse_bytes)]
    pub max_request_memory: usize,
    /// How long a request's body may take to arrive; slower ones are DEADLINE_EXCEEDED.
    #[arg(long, env = "REQUEST_BODY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_body_timeout: Duration,
    /// How long a connection may take after its TLS handshake to start HTTP/2 before it is closed.
    #[arg(long, env = "HTTP2_PREFACE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub http2_preface_timeout: Duration,
    /// After this long without a call in flight a connection is sent GOAWAY; `0s`: never.
    #[arg(long, env = "MAX_CONNECTION_IDLE", default_value = "15m", value_parser = parse_duration)]
    pub max_connection_idle: Duration,
    /// After this long a connection is sent GOAWAY, so that clients reconnect (and spread
    /// over new replicas); `0s`: never.
    #[arg(long, env = "MAX_CONNECTION_AGE", default_value = "30m", value_parser = parse_duration)]
    pub max_connection_age: Duration,
    /// How long calls in flight on a connection past its age may still take.
    #[arg(long, env = "MAX_CONNECTION_AGE_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub max_connection_age_grace: Duration,
}

/// The server's limits from the flags; a zero duration switches a connection limit off.
fn limits(args: &ServeArgs) -> Limits {
    let unless_zero = |duration: Duration| (!duration.is_zero()).then_some(duration);
    Limits {
        max_concurrent_streams: args.max_concurrent_streams.max(1),
        max_in_flight: args.max_in_flight_calls.max(1),
        request_memory: args.max_request_memory,
        request_body_timeout: args.request_body_timeout,
        preface_timeout: args.http2_preface_timeout,
        max_connection_idle: unless_zero(args.max_connection_idle),
        max_connection_age: unless_zero(args.max_connection_age),
        max_connection_age_grace: args.max_connection_age_grace,
        ..Limits::default()
    }
}

impl ServeArgs {
    fn expected_names(&self) -> Result<ExpectedNames> {
        let mut expected = match (&self.service_name, &self.namespace) {
            (Some(service), Some(namespace)) => ExpectedNames::for_service(service, namespace, &self.cluster_domain),
            (Some(_), None) => {
                return Err(Error::invalid_config(
                    "--service-name needs --namespace (env POD_NAMESPACE) to know the Service's names",
                ));
            }
            (None, _) => ExpectedNames::default(),
        };
        expected.required.extend(self.tls_expected_names.iter().cloned());
        Ok(expected)
    }

    fn cert_paths(&self, dir: &std::path::Path) -> CertPaths {
        let mut paths = CertPaths::in_dir(dir);
        if let Some(ca) = &self.tls_ca_cert_file {
            paths.ca = ca.clone();
        }
        if let Some(cert) = &self.tls_cert_file {
            paths.cert = cert.clone();
        }
        if let Some(key) = &self.tls_key_file {
            paths.key = key.clone();
        }
        paths
    }
}

/// The Kubernetes API as the source: in-cluster configuration (or KUBECONFIG).
async fn kubernetes_source(provider: &Provider, args: &ServeArgs) -> Result<Arc<dyn Source>> {
    let client = kube::Client::try_default().await.map_err(|error| {
        Error::invalid_config(format!(
            "no Kubernetes API to read provider objects from ({error}); run in a cluster, set KUBECONFIG, or pass --manifests DIR"
        ))
    })?;
    let settings = KubeSettings {
        watch: WatchScope::from_list(&args.watch_namespaces),
        ..KubeSettings::default()
    };
    tracing::info!(watch = ?settings.watch, "provider objects from the Kubernetes API");
    Ok(KubeSource::start(client, &provider.watched_kinds()?, settings))
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = int.recv() => tracing::info!("SIGINT received"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub(crate) async fn serve(provider: Provider, args: ServeArgs) -> Result<()> {
    let bind = args.bind_address.unwrap_or(if args.dev {
        IpAddr::from([127, 0, 0, 1])
    } else {
        IpAddr::from([0, 0, 0, 0])
    });
    let mut expected = args.expected_names()?;
    let transport = if args.insecure_plaintext {
        Transport::InsecurePlaintext
    } else if args.dev {
        let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        names.extend(expected.required.iter().cloned());
        names.extend(expected.recommended.iter().cloned());
        let set = CertificateSet::generate(&names)?;
        set.write(&args.dev_dir)?;
        expected.required.push("localhost".into());
        Transport::MutualTls {
            paths: CertPaths::in_dir(args.dev_dir.join("server")),
            expected,
            allowed_clients: args.tls_allowed_clients.clone(),
        }
    } else {
        if expected.required.is_empty() {
            tracing::info!("not checking the certificate's names: set --service-name and --namespace to check them");
        }
        Transport::MutualTls {
            paths: args.cert_paths(&args.tls_cert_dir),
            expected,
            allowed_clients: args.tls_allowed_clients.clone(),
        }
    };
    let (source, _manifest_reloader): (Arc<dyn Source>, _) = match &args.manifests {
        Some(manifests) => {
            let source = Arc::new(FilesSource::load(manifests)?);
            let reloader = source.spawn_reloader(args.reload_interval);
            tracing::info!(dir = %manifests.display(), "provider objects from manifests");
            (source, Some(reloader))
        }
        None if args.dev => {
            return Err(Error::invalid_config(
                "--dev needs --manifests DIR: a folder of YAML manifests with the provider objects and Secrets",
            ));
        }
        None => (kubernetes_source(&provider, &args).await?, None),
    };

    let settings = Settings {
        grpc_addr: SocketAddr::new(bind, args.grpc_port),
        http_addr: SocketAddr::new(bind, args.metrics_port),
        transport,
        reload_interval: args.reload_interval,
        shutdown_grace: args.shutdown_grace_period,
        shutdown_delay: args.shutdown_delay,
        limits: limits(&args),
    };
    let running = provider.start(settings, source).await?;
    tracing::info!(grpc = %running.grpc_addr(), http = %running.http_addr(), "serving");
    if args.dev {
        let client_dir = args.dev_dir.join("client");
        std::fs::create_dir_all(&client_dir)
            .map_err(|error| Error::internal(format!("creating {}: {error}", client_dir.display())))?;
        let address = format!("localhost:{}", running.grpc_addr().port());
        crate::tls::issue::write_file(&client_dir.join("address"), address.as_bytes(), false)
            .map_err(|error| Error::internal(format!("writing {}: {error}", client_dir.display())))?;
        eprintln!(
            "dev mode: mTLS on {address}; client certificate (CN external-secrets-controller) in {}\n  try: eso-gen call {address} Validate --certs {} --kind <Kind> --name <name>",
            client_dir.display(),
            client_dir.display()
        );
    }
    let stop = running.shutdown_token();
    tokio::spawn(async move {
        terminated().await;
        stop.cancel();
    });
    running.wait().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> std::result::Result<ServeArgs, String> {
        Cli::try_parse_from(std::iter::once("provider").chain(args.iter().copied()))
            .map(|cli| cli.serve)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn port_is_an_alias_of_grpc_port_as_upstream_binaries_take_it() -> std::result::Result<(), String> {
        assert_eq!(parse(&["--port", "9443"])?.grpc_port, 9443);
        assert_eq!(parse(&["--grpc-port", "9443"])?.grpc_port, 9443);
        assert_eq!(parse(&[])?.grpc_port, crate::manifest::DEFAULT_PORTS.grpc);
        let both = parse(&["--port", "1", "--grpc-port", "2"]);
        assert!(both.is_err(), "one flag, given twice: {both:?}");
        Ok(())
    }

    #[test]
    fn connection_lifetime_defaults_match_upstream_and_zero_disables() -> std::result::Result<(), String> {
        let defaults = parse(&[])?;
        assert_eq!(defaults.max_connection_idle, Duration::from_secs(15 * 60));
        assert_eq!(defaults.max_connection_age, Duration::from_secs(30 * 60));
        assert_eq!(defaults.max_connection_age_grace, Duration::from_secs(30));
        assert_eq!(
            limits(&defaults),
            Limits::default(),
            "the flags' defaults are the library's"
        );
        let off = limits(&parse(&["--max-connection-age", "0s", "--max-connection-idle", "0s"])?);
        assert_eq!((off.max_connection_age, off.max_connection_idle), (None, None));
        let set = limits(&parse(&["--max-connection-idle", "90s"])?);
        assert_eq!(set.max_connection_idle, Some(Duration::from_secs(90)));
        Ok(())
    }
}
