//! An ESO-core-like client: dials `host:port` (no scheme) over mutual TLS, checks
//! the server certificate against `host`, pings every 10 s. Used by tests, the
//! benchmark and `eso-gen call`.

use crate::tls::CertPaths;
use crate::{Error, Result};
use eso_proto::generator::v1::generator_provider_client::GeneratorProviderClient;
use eso_proto::provider::v1::secret_store_provider_client::SecretStoreProviderClient;
use std::path::Path;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// How often ESO core pings an idle connection.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// ESO core's deadline per call.
pub const CALL_DEADLINE: Duration = Duration::from_secs(30);

/// The client's side of mutual TLS: the CA that signed the server, and our own
/// certificate and key.
#[derive(Clone)]
pub struct ClientTls {
    /// CA certificate(s), PEM.
    pub ca_pem: Vec<u8>,
    /// Client certificate, PEM.
    pub cert_pem: Vec<u8>,
    /// Client key, PEM.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Reads `ca.crt`, `tls.crt` and `tls.key` from `dir` (the layout `--dev` and
    /// `eso-gen certs` write for the client).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let paths = CertPaths::in_dir(dir);
        let read = |path: &Path| {
            std::fs::read(path)
                .map_err(|error| Error::invalid_config(format!("cannot read {}: {error}", path.display())))
        };
        Ok(ClientTls {
            ca_pem: read(&paths.ca)?,
            cert_pem: read(&paths.cert)?,
            key_pem: read(&paths.key)?,
        })
    }
}

/// Splits `host:port` (or `[v6]:port`); refuses a scheme, as ESO core sends none.
pub fn split_address(address: &str) -> Result<(String, u16)> {
    if address.contains("://") {
        return Err(Error::invalid_request(format!(
            "address {address} has a scheme; give host:port, as ESO core dials it"
        )));
    }
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| Error::invalid_request(format!("address {address} is not host:port")))?;
    let port: u16 = port
        .parse()
        .map_err(|_| Error::invalid_request(format!("address {address} has no valid port")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(Error::invalid_request(format!("address {address} has no host")));
    }
    Ok((host.to_string(), port))
}

/// Both services' clients over one connection.
#[derive(Clone, Debug)]
pub struct ProviderClient {
    /// `provider.v1.SecretStoreProvider`.
    pub store: SecretStoreProviderClient<Channel>,
    /// `generator.v1.GeneratorProvider`.
    pub generator: GeneratorProviderClient<Channel>,
    /// The underlying channel, for other services (health, reflection).
    pub channel: Channel,
    endpoint: Endpoint,
}

impl ProviderClient {
    /// Connects to `address` (`host:port`). With `tls`, the server certificate must
    /// carry `host`; without, the connection is plaintext (only for servers started
    /// with `--insecure-plaintext`).
    pub async fn connect(address: &str, tls: Option<&ClientTls>) -> Result<Self> {
        let (host, port) = split_address(address)?;
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{authority}"))
            .map_err(|error| Error::invalid_request(format!("address {address}: {error}")))?
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_while_idle(true)
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true);
        if let Some(tls) = tls {
            let config = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&tls.ca_pem))
                .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
                .domain_name(host.clone());
            endpoint = endpoint
                .tls_config(config)
                .map_err(|error| Error::invalid_config(format!("client TLS configuration: {error}")))?;
        }
        let channel = endpoint
            .clone()
            .connect()
            .await
            .map_err(|error| Error::unavailable(format!("cannot connect to {address}: {}", error_chain(&error))))?;
        Ok(ProviderClient {
            store: SecretStoreProviderClient::new(channel.clone()),
            generator: GeneratorProviderClient::new(channel.clone()),
            channel,
            endpoint,
        })
    }

    /// Where and how this client connected (address, TLS, keepalive): to open more
    /// connections like its own, e.g. with other HTTP/2 settings.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// An error and its sources, one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A request with ESO core's 30 s deadline (sent as `grpc-timeout`).
pub fn with_deadline<T>(message: T, deadline: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline);
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_and_port_without_scheme() {
        assert_eq!(
            split_address("provider-fake.ns.svc:8080").ok(),
            Some(("provider-fake.ns.svc".into(), 8080))
        );
        assert_eq!(split_address("[::1]:8080").ok(), Some(("::1".into(), 8080)));
        assert!(split_address("https://x:8080").is_err());
        assert!(split_address("x").is_err());
        assert!(split_address(":80").is_err());
        assert!(split_address("x:http").is_err());
    }
}
