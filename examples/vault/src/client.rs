//! A small Vault HTTP API client over rustls (ring): login (token or AppRole), the
//! X-Vault-Namespace header, a CA bundle from a Secret, and one place where HTTP
//! statuses and transport failures become `eso_runtime::Error`s.
//!
//! Messages name the object, the operation and the path, and quote Vault's own error
//! text with any quoted values removed; never a token or a secret value.
//!
//! Every request URL is built by [`api_url`], which refuses a path segment that the
//! key rules ([`crate::key`]) refuse and checks that the URL it built has exactly the
//! segments it was given: no key can change a request's route or query.

use crate::key::key_problem;
use crate::spec::Connection;
use eso_runtime::util::{bounded, without_quoted_values};
use eso_runtime::{Ctx, Error, Result, SecretValue};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

/// How long one HTTP request to Vault may take (ESO core's deadline is 30 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long connecting to Vault may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOKEN_HEADER: &str = "X-Vault-Token";
const NAMESPACE_HEADER: &str = "X-Vault-Namespace";
/// Vault's error text is cut to this many characters in our messages.
const MAX_VAULT_MESSAGE: usize = 300;

/// How the client logs in.
enum Login {
    /// A fixed token.
    Token,
    /// AppRole: logs in at connect, and again when Vault refuses the token (it expired).
    AppRole {
        path: String,
        role_id: SecretValue,
        secret_id: SecretValue,
    },
}

/// A logged-in Vault client for one provider or generator object.
pub struct VaultClient {
    http: reqwest::Client,
    base: Url,
    namespace: Option<HeaderValue>,
    login: Login,
    token: RwLock<Arc<HeaderValue>>,
    object: String,
}

/// An API path: segments joined with `/`, each percent-encoded when sent.
pub type ApiPath = Vec<String>;

/// Builds an API path from parts that may themselves contain `/` (empty segments are
/// dropped: callers check keys with [`check_key`](crate::check_key) first, which
/// refuses them).
pub fn api_path(parts: &[&str]) -> ApiPath {
    parts
        .iter()
        .flat_map(|part| part.split('/'))
        .filter(|segment| !segment.is_empty())
        .map(str::to_string)
        .collect()
}

/// The API path of `key` in `area` (`data` or `metadata`) of the KV v2 mount `mount`:
/// `<mount>/<area>/<key>`, split on `/`. `key` may be empty (the mount's root, for a
/// listing).
pub fn kv_path(mount: &str, area: &str, key: &str) -> ApiPath {
    api_path(&[mount, area, key])
}

/// Percent-decodes a URL path segment; `None` when an escape is malformed or the
/// bytes are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    fn hex(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            b'A'..=b'F' => Some(byte - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.as_bytes();
    while let Some((&first, rest)) = bytes.split_first() {
        bytes = match (first, rest) {
            (b'%', [high, low, tail @ ..]) => {
                out.push(hex(*high)? << 4 | hex(*low)?);
                tail
            }
            (b'%', _) => return None,
            (byte, tail) => {
                out.push(byte);
                tail
            }
        };
    }
    String::from_utf8(out).ok()
}

/// The URL of the API path `path` on the Vault at `base` (`spec.server`):
/// `<base>/v1/<segment>/…?<query>`. Each segment is percent-encoded as one path
/// segment, so a `/`, `?`, `#` or `%` in it is data, never structure; `query` is
/// form-encoded.
///
/// Refuses a segment that holds a `/` or that the key rules refuse (a control
/// character, a backslash, a `.` or `..` as URL parsing reads it: see [`crate::key`]),
/// and checks the URL it built, as it is sent: its path is the base's path, `v1` and
/// exactly `path`'s segments (decoded), its query exactly `query`, with no fragment.
pub fn api_url(base: &Url, path: &[String], query: &[(&str, &str)]) -> Result<Url> {
    for segment in path {
        let problem = if segment.contains('/') {
            Some("holds a '/'".to_string())
        } else {
            key_problem(segment).map(|problem| problem.to_string())
        };
        if let Some(problem) = problem {
            return Err(Error::invalid_request(format!(
                "refusing to send a request to Vault: the path segment \"{}\" is refused: {problem}",
                bounded(segment).at_most(80)
            )));
        }
    }
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|_| Error::invalid_config("spec.server cannot be a base URL"))?;
        segments.pop_if_empty();
        segments.push("v1");
        segments.extend(path);
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    // What goes on the wire is the URL's text: check it as the server will parse it.
    let sent = Url::parse(url.as_str()).ok();
    let mut base_segments: Vec<&str> = base.path_segments().map(Iterator::collect).unwrap_or_default();
    if base_segments.last() == Some(&"") {
        base_segments.pop();
    }
    let expected: Vec<&str> = base_segments
        .iter()
        .copied()
        .chain(["v1"])
        .chain(path.iter().map(String::as_str))
        .collect();
    let sent_segments: Option<Vec<String>> = sent.as_ref().and_then(|sent| {
        let segments: Vec<&str> = sent.path_segments()?.collect();
        let (prefix, ours) = segments.split_at_checked(base_segments.len())?;
        let mut decoded: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        for segment in ours {
            decoded.push(percent_decode(segment)?);
        }
        Some(decoded)
    });
    let sent_query: Option<Vec<(String, String)>> = sent.as_ref().map(|sent| {
        sent.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    });
    let expected_query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let intact = sent
        .as_ref()
        .is_some_and(|sent| sent.fragment().is_none() && sent == &url)
        && sent_segments.is_some_and(|segments| segments == expected)
        && sent_query.is_some_and(|pairs| pairs == expected_query);
    if !intact {
        return Err(Error::internal(format!(
            "refusing to send a request to Vault: the URL built for the path \"{}\" does not have exactly its segments",
            bounded(&path.join("/")).at_most(80)
        )));
    }
    Ok(url)
}

fn header(value: &SecretValue, what: &str) -> Result<HeaderValue> {
    let text = value
        .expose_str()
        .map(str::trim)
        .ok_or_else(|| Error::invalid_config(format!("the {what} is not UTF-8")))?;
    if text.is_empty() {
        return Err(Error::invalid_config(format!("the {what} is empty")));
    }
    let mut header =
        HeaderValue::from_str(text).map_err(|_| Error::invalid_config(format!("the {what} has invalid characters")))?;
    header.set_sensitive(true);
    Ok(header)
}

/// The causes of an error, outermost first, joined with `: `.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text
}

/// Vault's `errors` array as one line, without quoted values, cut to a sane length.
fn vault_errors(body: &Value) -> String {
    let joined = match body.get("errors").and_then(Value::as_array) {
        Some(errors) if !errors.is_empty() => errors
            .iter()
            .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
            .map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    };
    let mut text = without_quoted_values(&joined);
    if let Some((cut, _)) = text.char_indices().nth(MAX_VAULT_MESSAGE) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn tls_config(ca_bundle: Option<&SecretValue>) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::internal(format!("TLS setup: {error}")))?;
    let config = match ca_bundle {
        Some(pem) => {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(pem.expose()) {
                let certificate = certificate
                    .map_err(|error| Error::invalid_config(format!("spec.caBundle is not valid PEM: {error}")))?;
                roots.add(certificate).map_err(|error| {
                    Error::invalid_config(format!("spec.caBundle holds a certificate rustls refuses: {error}"))
                })?;
            }
            if roots.is_empty() {
                return Err(Error::invalid_config("spec.caBundle holds no PEM certificate"));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder
                .with_platform_verifier()
                .map_err(|error| Error::internal(format!("TLS setup (system trust roots): {error}")))?
                .with_no_client_auth()
        }
    };
    Ok(config)
}

/// How many HTTP clients [`http_client`] keeps (one per CA bundle in use).
const MAX_HTTP_CLIENTS: usize = 16;

/// The HTTP clients built so far, by the CA bundle they trust (`None`: the system's
/// roots). Building one loads its trust roots (all of the system's) and starts an empty
/// connection pool; the generator connects on every Generate and Cleanup, so it would pay
/// both on each call (about half of a Generate's time, and a new TCP connection each).
/// A client holds no credential: the token and the namespace travel with each request.
static HTTP_CLIENTS: std::sync::Mutex<Vec<(Option<Vec<u8>>, reqwest::Client)>> = std::sync::Mutex::new(Vec::new());

/// An HTTP client trusting `ca_bundle` (else the system's roots), never following a
/// redirect: built once per CA bundle, then shared (see [`HTTP_CLIENTS`]).
fn http_client(ca_bundle: Option<&SecretValue>) -> Result<reqwest::Client> {
    let key = ca_bundle.map(|pem| pem.expose().to_vec());
    if let Ok(clients) = HTTP_CLIENTS.lock()
        && let Some((_, client)) = clients.iter().find(|(trusted, _)| *trusted == key)
    {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(ca_bundle)?)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        // The token travels in a custom header, which a redirect to another host would
        // carry along: never follow one.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| Error::internal(format!("building the HTTP client: {}", causes(&error))))?;
    // A poisoned lock only means no caching.
    if let Ok(mut clients) = HTTP_CLIENTS.lock() {
        if clients.len() >= MAX_HTTP_CLIENTS {
            clients.remove(0);
        }
        clients.push((key, client.clone()));
    }
    Ok(client)
}

impl VaultClient {
    /// Reads the credentials and CA through `ctx` (under the call's authentication
    /// scope), builds the HTTP client and logs in.
    pub async fn connect(ctx: &Ctx, connection: &Connection<'_>) -> Result<VaultClient> {
        let object = ctx.describe();
        connection.check().map_err(|e| e.context(&object))?;
        let ca_bundle = match connection.ca_bundle {
            Some(selector) => Some(ctx.secret(selector).await?),
            None => None,
        };
        let http = http_client(ca_bundle.as_ref()).map_err(|e| e.context(&object))?;
        let base = Url::parse(connection.server)
            .map_err(|error| Error::invalid_config(format!("{object}: spec.server is not a URL: {error}")))?;
        let namespace = match connection
            .namespace
            .map(|n| n.trim_matches('/'))
            .filter(|n| !n.is_empty())
        {
            Some(namespace) => Some(
                HeaderValue::from_str(namespace)
                    .map_err(|_| Error::invalid_config(format!("{object}: spec.namespace has invalid characters")))?,
            ),
            None => None,
        };
        let (login, token) = match (&connection.auth.token_secret_ref, &connection.auth.app_role) {
            (Some(selector), _) => {
                let token = ctx.secret(selector).await?;
                let token = header(
                    &token,
                    &format!("token in Secret {} key {}", selector.name, selector.key),
                )
                .map_err(|e| e.context(&object))?;
                (Login::Token, token)
            }
            (None, Some(app_role)) => {
                let role_id = ctx.secret(&app_role.role_id_ref).await?;
                let secret_id = ctx.secret(&app_role.secret_id_ref).await?;
                let placeholder = HeaderValue::from_static("");
                let login = Login::AppRole {
                    path: app_role.path.trim_matches('/').to_string(),
                    role_id,
                    secret_id,
                };
                (login, placeholder)
            }
            (None, None) => {
                return Err(Error::invalid_config(format!(
                    "{object}: spec.auth needs tokenSecretRef or appRole"
                )));
            }
        };
        let client = VaultClient {
            http,
            base,
            namespace,
            login,
            token: RwLock::new(Arc::new(token)),
            object,
        };
        if matches!(client.login, Login::AppRole { .. }) {
            client.login().await?;
        }
        Ok(client)
    }

    /// `Kind namespace/name` of the object this client serves, for messages.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// Logs in with AppRole and keeps the new token.
    async fn login(&self) -> Result<()> {
        let Login::AppRole {
            path,
            role_id,
            secret_id,
        } = &self.login
        else {
            return Ok(());
        };
        let text = |value: &SecretValue, what: &str| -> Result<String> {
            value
                .expose_str()
                .map(|s| s.trim().to_string())
                .ok_or_else(|| Error::invalid_config(format!("{}: the AppRole {what} is not UTF-8", self.object)))
        };
        let body =
            serde_json::json!({ "role_id": text(role_id, "role id")?, "secret_id": text(secret_id, "secret id")? });
        let what = format!("logging in with AppRole at auth/{path}");
        let reply = self
            .send(
                Method::POST,
                &api_path(&["auth", path, "login"]),
                &[],
                Some(&body),
                None,
            )
            .await
            .map_err(|e| e.context(&what))?;
        let token = match reply.status {
            status if status.is_success() => reply
                .body
                .pointer("/auth/client_token")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Error::internal(format!(
                        "{}: {what}: Vault's answer has no auth.client_token",
                        self.object
                    ))
                })?
                .to_string(),
            // Vault answers a bad role id or secret id with 400 "invalid role or secret ID".
            StatusCode::BAD_REQUEST => {
                return Err(Error::permission_denied(format!(
                    "{}: {what}: Vault refused the role id or secret id: {}",
                    self.object,
                    vault_errors(&reply.body)
                )));
            }
            // And a path with no auth method behind it with 403.
            StatusCode::FORBIDDEN => {
                return Err(Error::permission_denied(format!(
                    "{}: {what}: {} (is an AppRole auth method enabled at auth/{path}?)",
                    self.object,
                    vault_errors(&reply.body)
                )));
            }
            StatusCode::NOT_FOUND => {
                return Err(Error::invalid_config(format!(
                    "{}: {what}: no AppRole auth method at auth/{path}",
                    self.object
                )));
            }
            _ => return Err(self.status_error(&reply, &what)),
        };
        let token = header(&SecretValue::from(token), "AppRole login token").map_err(|e| e.context(&self.object))?;
        *self.token.write().await = Arc::new(token);
        Ok(())
    }

    fn url(&self, path: &ApiPath, query: &[(&str, &str)]) -> Result<Url> {
        api_url(&self.base, path, query).map_err(|e| e.context(&self.object))
    }

    async fn send(
        &self,
        method: Method,
        path: &ApiPath,
        query: &[(&str, &str)],
        body: Option<&Value>,
        token: Option<Arc<HeaderValue>>,
    ) -> Result<Reply> {
        let url = self.url(path, query)?;
        let mut request = self.http.request(method, url.clone());
        if let Some(token) = token {
            request = request.header(TOKEN_HEADER, token.as_ref().clone());
        }
        if let Some(namespace) = &self.namespace {
            request = request.header(NAMESPACE_HEADER, namespace.clone());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| {
            Error::unavailable(format!(
                "{}: Vault at {} is unreachable: {}",
                self.object,
                self.base,
                causes(&error.without_url())
            ))
        })?;
        let status = response.status();
        let redirect = status
            .is_redirection()
            .then(|| redirect_target(&url, response.headers()));
        let bytes = response.bytes().await.map_err(|error| {
            Error::unavailable(format!(
                "{}: reading Vault's answer failed: {}",
                self.object,
                causes(&error.without_url())
            ))
        })?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Ok(Reply { status, body, redirect })
    }

    /// Calls the Vault API with the client's token. A 404 is `Answer::Missing` with
    /// Vault's body (the caller decides what it means: see [`route_error`]); other
    /// failures are mapped errors whose message says `what` was being done.
    pub async fn call(
        &self,
        method: Method,
        path: &ApiPath,
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Answer> {
        let mut relogged = false;
        loop {
            let token = Arc::clone(&*self.token.read().await);
            let reply = self
                .send(method.clone(), path, query, body, Some(Arc::clone(&token)))
                .await
                .map_err(|e| e.context(what))?;
            match reply.status {
                status if status.is_success() => return Ok(Answer::Found(reply.body)),
                StatusCode::NOT_FOUND => return Ok(Answer::Missing(reply.body)),
                StatusCode::FORBIDDEN
                    if !relogged
                        && matches!(self.login, Login::AppRole { .. })
                        && !self.token_is_valid(token).await? =>
                {
                    // The AppRole token expired or was revoked (not a policy refusal):
                    // log in again, once, and retry.
                    relogged = true;
                    self.login().await?;
                }
                _ => return Err(self.status_error(&reply, what)),
            }
        }
    }

    /// Like [`call`](Self::call), for paths that are not secrets: `Ok(None)` is a 404
    /// with no error text; a 404 that names an error (no handler for the route: nothing
    /// mounted there) is a configuration problem.
    pub async fn request(
        &self,
        method: Method,
        path: &ApiPath,
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Option<Value>> {
        match self.call(method, path, query, body, what).await? {
            Answer::Found(body) => Ok(Some(body)),
            Answer::Missing(body) => match route_error(&body) {
                None => Ok(None),
                Some(detail) => Err(Error::invalid_config(format!(
                    "{}: {what}: {detail} (HTTP 404)",
                    self.object
                ))),
            },
        }
    }

    /// Revokes the client's own token (`auth/token/revoke-self`) when it came from an
    /// AppRole login, so that a short-lived client leaves no token behind. A fixed
    /// token from a Secret is never revoked.
    pub async fn revoke_login(&self) -> Result<()> {
        if !matches!(self.login, Login::AppRole { .. }) {
            return Ok(());
        }
        let token = Arc::clone(&*self.token.read().await);
        let what = "revoking the AppRole login token (auth/token/revoke-self)";
        let reply = self
            .send(
                Method::POST,
                &api_path(&["auth/token/revoke-self"]),
                &[],
                None,
                Some(token),
            )
            .await
            .map_err(|e| e.context(what))?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(self.status_error(&reply, what))
        }
    }

    /// Whether Vault still knows `token` (a 403 may be a policy refusal or a dead token).
    async fn token_is_valid(&self, token: Arc<HeaderValue>) -> Result<bool> {
        let reply = self
            .send(
                Method::GET,
                &api_path(&["auth/token/lookup-self"]),
                &[],
                None,
                Some(token),
            )
            .await
            .map_err(|e| e.context("looking up the token"))?;
        Ok(reply.status.is_success())
    }

    /// An HTTP status from Vault, as an error of the right kind.
    fn status_error(&self, reply: &Reply, what: &str) -> Error {
        let status = reply.status;
        let detail = vault_errors(&reply.body);
        let detail = if detail.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("{detail} (HTTP {})", status.as_u16())
        };
        let message = format!("{}: {what}: {detail}", self.object);
        match status {
            StatusCode::BAD_REQUEST => Error::invalid_request(message),
            StatusCode::UNAUTHORIZED => Error::unauthenticated(message),
            StatusCode::FORBIDDEN => Error::permission_denied(message),
            StatusCode::METHOD_NOT_ALLOWED => Error::invalid_config(message),
            StatusCode::PRECONDITION_FAILED | StatusCode::TOO_MANY_REQUESTS => Error::unavailable(message),
            // Redirects are never followed: the token travels in a header that would go
            // along to wherever the Location points. A 3xx is a configuration problem,
            // FAILED_PRECONDITION rather than UNAVAILABLE: spec.server points at an
            // address that does not answer itself (a standby node with request forwarding
            // off, a proxy sending http to https, a wrong path), and asking that address
            // again will not help; changing spec.server does.
            status if status.is_redirection() => Error::invalid_config(format!(
                "{}: {what}: Vault answered HTTP {}, a redirect to {}, which the provider does not follow \
                 because the token would travel with it; set spec.server to the address that answers itself \
                 (the active node or the cluster's address, with the right scheme)",
                self.object,
                status_text(status),
                reply.redirect.as_deref().unwrap_or("no Location")
            )),
            status if status.is_server_error() => Error::unavailable(message),
            _ => Error::internal(message),
        }
    }
}

/// `307 Temporary Redirect`: the code and its reason phrase.
fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// Where a redirect points, for a message: the Location resolved against the request's
/// URL, as scheme, host, port and path (bounded); never its user info, query or
/// fragment, which may carry credentials.
fn redirect_target(request: &Url, headers: &HeaderMap) -> String {
    let Some(location) = headers.get(reqwest::header::LOCATION) else {
        return "no Location".to_string();
    };
    let Some(target) = location.to_str().ok().and_then(|text| request.join(text).ok()) else {
        return "an unreadable Location".to_string();
    };
    let path = bounded(target.path()).at_most(200);
    match target.host_str() {
        Some(host) => {
            let port = target.port().map(|port| format!(":{port}")).unwrap_or_default();
            format!("{}://{}{port}{path}", target.scheme(), bounded(host).at_most(100))
        }
        None => format!("{}:{path}", target.scheme()),
    }
}

struct Reply {
    status: StatusCode,
    body: Value,
    /// For a 3xx: where the Location points (see [`redirect_target`]).
    redirect: Option<String>,
}

/// What Vault answered a call with.
#[derive(Debug)]
pub enum Answer {
    /// A 2xx, with its body (`null` when empty).
    Found(Value),
    /// A 404, with its body: `{"errors": []}` for a missing secret, a KV v2 secret's
    /// metadata when its current version is deleted, or an error text (such as "no
    /// handler for route") when nothing is mounted at the path.
    Missing(Value),
}

/// The error text of a 404 that is not a missing secret: Vault names an error (e.g. "no
/// handler for route": nothing is mounted there). `None` when the `errors` array is
/// empty or absent, which is how Vault answers a secret that is not there.
pub fn route_error(body: &Value) -> Option<String> {
    let detail = vault_errors(body);
    (!detail.is_empty()).then_some(detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_paths_split_on_slashes() {
        assert_eq!(api_path(&["secret", "data", "a/b"]), ["secret", "data", "a", "b"]);
        assert_eq!(api_path(&["auth/token/lookup-self"]), ["auth", "token", "lookup-self"]);
        assert_eq!(api_path(&["secret", "metadata", ""]), ["secret", "metadata"]);
    }

    #[test]
    fn vault_errors_drop_quoted_values_and_are_cut() {
        let body = json!({"errors": ["1 error occurred:\n\t* bad value \"hunter2\"\n\n", "second"]});
        assert_eq!(vault_errors(&body), "1 error occurred: * bad value \"…\"; second");
        let long = json!({"errors": ["x".repeat(1000)]});
        assert_eq!(vault_errors(&long).chars().count(), MAX_VAULT_MESSAGE + 1);
        assert_eq!(vault_errors(&json!({})), "");
    }

    #[test]
    fn only_a_404_without_errors_is_a_missing_secret() {
        assert_eq!(route_error(&json!({"errors": []})), None);
        assert_eq!(route_error(&Value::Null), None);
        let no_route = json!({"errors": ["no handler for route \"nosuchmount/data/k\". route entry not found."]});
        assert_eq!(
            route_error(&no_route).as_deref(),
            Some("no handler for route \"…\". route entry not found.")
        );
    }

    fn base(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|error| unreachable!("{text}: {error}"))
    }

    /// The built URL's path segments after `prefix`, decoded.
    fn segments_after(url: &Url, prefix: &str) -> Option<Vec<String>> {
        url.path()
            .strip_prefix(prefix)?
            .split('/')
            .map(percent_decode)
            .collect()
    }

    #[test]
    fn the_url_library_resolves_hidden_dots() {
        // Why keys are checked: the URL library drops tab, LF and CR and then resolves
        // the `..` they hid, even through the one-segment setter.
        let mut url = base("https://vault.example:8200");
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.extend(["v1", "secret", "data", "..\t", "config"]);
        }
        assert_eq!(url.path(), "/v1/secret//config");
    }

    #[test]
    fn accepted_keys_stay_in_their_segments() {
        let keys = [
            "a/b",
            "a?b",
            "a#b",
            "?list=true",
            "a/b?x=1#f",
            "a%2fb",
            "a%b",
            "a%25b",
            "%2e%2e%2e",
            "%252e%252e",
            "...",
            ".hidden/x",
            "a;b=c",
            "a b",
            "ключ/秘密",
            "\u{202e}rtl",
        ];
        for server in ["https://vault.example:8200", "https://vault.example:8200/prefix/"] {
            let prefix_path = if server.ends_with("/prefix/") { "/prefix" } else { "" };
            for area in ["data", "metadata"] {
                for key in keys {
                    assert_eq!(crate::check_key("remote_ref.key", key), Ok(()), "{key:?}");
                    let url = api_url(&base(server), &kv_path("secret", area, key), &[]);
                    let url = url.unwrap_or_else(|error| unreachable!("{key:?}: {error}"));
                    let prefix = format!("{prefix_path}/v1/secret/{area}/");
                    assert!(url.path().starts_with(&prefix), "{key:?}: {url}");
                    let expected: Vec<&str> = key.split('/').collect();
                    assert_eq!(
                        segments_after(&url, &prefix),
                        Some(expected.iter().map(|s| s.to_string()).collect()),
                        "{key:?}: {url}"
                    );
                    assert_eq!(url.query(), None, "{key:?}: {url}");
                    assert_eq!(url.fragment(), None, "{key:?}: {url}");
                    assert_eq!(url.host_str(), Some("vault.example"), "{key:?}: {url}");
                }
            }
        }
        let url = api_url(
            &base("https://vault.example:8200"),
            &kv_path("secret", "data", "a?b#c%2e/d"),
            &[("version", "3")],
        );
        assert_eq!(
            url.map(String::from).as_deref(),
            Ok("https://vault.example:8200/v1/secret/data/a%3Fb%23c%252e/d?version=3")
        );
    }

    #[test]
    fn refused_keys_never_become_a_url() {
        let server = base("https://vault.example:8200");
        for key in [
            "..\t",
            "..\r",
            "..\n",
            "\t..",
            ".%2e",
            "%2e%2e",
            "%2E.",
            "a/..\t/b",
            "a/b/..\n",
            "..\\x",
            "a\\..\\b",
            "\u{1b}[31mred",
            ".",
            "a/./b",
            "a/../b",
        ] {
            let error = crate::check_key("remote_ref.key", key).err().map(|e| e.kind());
            assert_eq!(error, Some(eso_runtime::ErrorKind::InvalidRequest), "{key:?}");
            // Even a caller that forgot the check cannot build a URL from it.
            for area in ["data", "metadata"] {
                let built = api_url(&server, &kv_path("secret", area, key), &[]);
                assert!(built.is_err(), "{key:?}: {built:?}");
            }
        }
        for key in ["a//b", "/a", "a/", ""] {
            assert!(crate::check_key("remote_ref.key", key).is_err(), "{key:?}");
        }
        assert!(api_url(&server, &["a/b".to_string()], &[]).is_err());
    }

    #[test]
    fn redirect_targets_show_no_credentials_or_query() {
        let request = base("https://standby.example:8200/v1/secret/data/k");
        let mut headers = HeaderMap::new();
        assert_eq!(redirect_target(&request, &headers), "no Location");
        headers.insert(
            reqwest::header::LOCATION,
            HeaderValue::from_static("https://user:pw@active.example:8200/v1/secret/data/k?token=hunter2#f"),
        );
        assert_eq!(
            redirect_target(&request, &headers),
            "https://active.example:8200/v1/secret/data/k"
        );
        headers.insert(
            reqwest::header::LOCATION,
            HeaderValue::from_static("/v1/secret/config?x=1"),
        );
        assert_eq!(
            redirect_target(&request, &headers),
            "https://standby.example:8200/v1/secret/config"
        );
        headers.insert(
            reqwest::header::LOCATION,
            HeaderValue::from_bytes(b"http://\xff").unwrap_or_else(|_| HeaderValue::from_static("http://[")),
        );
        assert_eq!(redirect_target(&request, &headers), "an unreadable Location");
    }
}
