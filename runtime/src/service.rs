//! The gRPC services: wire requests in, checks and dispatch, wire responses out.
//! Every call is timed and counted, and logged with its method and object — never
//! with a value.

use crate::dispatch::{ErasedGenerator, ErasedStore, Registry, Resolved};
use crate::display::{ObjectName, object_name};
use crate::metrics::Metrics;
use crate::scope::Scope;
use crate::secret::map_into_wire;
use crate::source::{Source, StoredObject};
use crate::{Error, ErrorKind, FindQuery, PushRemoteRef, PushRequest, RemoteRef, Result};
use eso_proto::generator::v1 as gen_wire;
use eso_proto::provider::v1 as wire;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tonic::{Request, Response, Status};
use tracing::Instrument;

/// Shared by both services.
#[derive(Clone)]
pub(crate) struct Services {
    pub registry: Arc<Registry>,
    pub source: Arc<dyn Source>,
    pub metrics: Arc<Metrics>,
}

impl Services {
    async fn observe<T>(
        &self,
        method: &'static str,
        object: impl std::fmt::Display + Sync,
        call: impl Future<Output = Result<T>>,
    ) -> Result<Response<T>, Status> {
        // The span is at debug level: at the default (info) it is never built, and
        // building it costs more than the rest of a call (the log formatter renders
        // its fields at once). What is logged at info or above names the method and
        // the object itself.
        let span = tracing::debug_span!("rpc", method, object = %object);
        let started = Instant::now();
        // A call whose caller left (or whose deadline passed) is dropped mid-way;
        // the guard counts it as CANCELLED.
        let mut guard = CancelledGuard {
            metrics: &self.metrics,
            method,
            object: &object,
            started,
            armed: true,
        };
        // A disabled span (the default level) is not entered on every poll.
        let result = if span.is_disabled() {
            call.await
        } else {
            call.instrument(span.clone()).await
        };
        guard.armed = false;
        let elapsed = started.elapsed();
        let _entered = span.enter();
        match result {
            Ok(response) => {
                self.metrics.observe_request(method, tonic::Code::Ok, elapsed);
                tracing::debug!(elapsed_ms = elapsed.as_millis() as u64, "ok");
                Ok(Response::new(response))
            }
            Err(error) => {
                let code = error.kind().code();
                self.metrics.observe_request(method, code, elapsed);
                if error.kind() == ErrorKind::SecretNotFound {
                    tracing::info!(method, object = %object, code = ?code, error = %error, "secret not found");
                } else {
                    tracing::warn!(method, object = %object, code = ?code, error = %error, "call failed");
                }
                Err(error.into())
            }
        }
    }

    fn find_object(&self, gvk: &crate::Gvk, scope: &Scope, name: &str) -> Result<Option<Arc<StoredObject>>> {
        if name.is_empty() {
            return Err(Error::invalid_request("the reference's name is empty"));
        }
        self.source.object(gvk, scope.object_namespace(), name)
    }

    fn resolve_store(
        &self,
        provider_ref: Option<&wire::ProviderReference>,
        source_namespace: &str,
    ) -> Result<(Arc<dyn ErasedStore>, Resolved)> {
        let reference = provider_ref.ok_or_else(|| Error::invalid_request("provider_ref is missing"))?;
        let store = self.registry.store(&reference.api_version, &reference.kind)?;
        let scope = Scope::from_request(&reference.store_ref_kind, &reference.namespace, source_namespace)?;
        let gvk = store.gvk();
        let object = self.find_object(&gvk, &scope, &reference.name)?.ok_or_else(|| {
            Error::invalid_config(format!(
                "{} not found",
                object_name(gvk.kind, scope.object_namespace(), &reference.name)
            ))
        })?;
        let scope = scope
            .with_object_annotations(&object.annotations)
            .map_err(|e| e.context(object.as_ref()))?;
        Ok((
            store,
            Resolved {
                object,
                scope,
                source: Arc::clone(&self.source),
            },
        ))
    }
}

struct CancelledGuard<'a> {
    metrics: &'a Metrics,
    method: &'static str,
    object: &'a (dyn std::fmt::Display + Sync),
    started: Instant,
    armed: bool,
}

impl Drop for CancelledGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.metrics
                .observe_request(self.method, tonic::Code::Cancelled, self.started.elapsed());
            tracing::info!(
                method = self.method,
                object = %self.object,
                "call cancelled: the caller went away or its deadline passed"
            );
        }
    }
}

/// The deadline the caller sent in `grpc-timeout`, from now.
fn request_deadline<T>(request: &Request<T>) -> Option<std::time::Instant> {
    let header = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    crate::blocking::grpc_deadline(header, Instant::now())
}

/// `Kind namespace/name` of a request's reference, formatted only when logged.
enum Described<'a> {
    Object(ObjectName<'a>),
    Missing,
}

impl std::fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Described::Object(object) => object.fmt(f),
            Described::Missing => f.write_str("-"),
        }
    }
}

fn described<'a>(kind: &'a str, namespace: &'a str, name: &'a str, source_namespace: &'a str) -> Described<'a> {
    let namespace = if namespace.is_empty() {
        source_namespace
    } else {
        namespace
    };
    Described::Object(object_name(kind, namespace, name))
}

fn describe<'a>(reference: Option<&'a wire::ProviderReference>, source_namespace: &'a str) -> Described<'a> {
    match reference {
        Some(r) => described(&r.kind, &r.namespace, &r.name, source_namespace),
        None => Described::Missing,
    }
}

fn describe_generator<'a>(reference: Option<&'a gen_wire::GeneratorRef>, source_namespace: &'a str) -> Described<'a> {
    match reference {
        Some(r) => described(&r.kind, &r.namespace, &r.name, source_namespace),
        None => Described::Missing,
    }
}

/// `provider.v1.SecretStoreProvider`.
pub(crate) struct StoreService(pub Services);

#[tonic::async_trait]
impl wire::secret_store_provider_server::SecretStoreProvider for StoreService {
    async fn get_secret(
        &self,
        request: Request<wire::GetSecretRequest>,
    ) -> Result<Response<wire::GetSecretResponse>, Status> {
        let wire::GetSecretRequest {
            remote_ref,
            provider_ref,
            source_namespace,
        } = request.into_inner();
        let object = describe(provider_ref.as_ref(), &source_namespace);
        self.0
            .observe("GetSecret", object, async {
                let (store, call) = self.0.resolve_store(provider_ref.as_ref(), &source_namespace)?;
                let remote = RemoteRef::from_wire(remote_ref)?;
                let value = store.get_secret(&call, &remote).await?;
                Ok(wire::GetSecretResponse {
                    value: value.into_wire(),
                })
            })
            .await
    }

    async fn get_secret_map(
        &self,
        request: Request<wire::GetSecretMapRequest>,
    ) -> Result<Response<wire::GetSecretMapResponse>, Status> {
        let wire::GetSecretMapRequest {
            remote_ref,
            provider_ref,
            source_namespace,
        } = request.into_inner();
        let object = describe(provider_ref.as_ref(), &source_namespace);
        self.0
            .observe("GetSecretMap", object, async {
                let (store, call) = self.0.resolve_store(provider_ref.as_ref(), &source_namespace)?;
                let remote = RemoteRef::from_wire(remote_ref)?;
                let secrets = store.get_secret_map(&call, &remote).await?;
                Ok(wire::GetSecretMapResponse {
                    secrets: map_into_wire(secrets),
                })
            })
            .await
    }

    async fn push_secret(
        &self,
        request: Request<wire::PushSecretRequest>,
    ) -> Result<Response<wire::PushSecretResponse>, Status> {
        let request = request.into_inner();
        // PushRequest::from_wire takes the whole request: the description is a copy.
        let object = describe(request.provider_ref.as_ref(), &request.source_namespace).to_string();
        self.0
            .observe("PushSecret", object, async {
                let (store, call) = self
                    .0
                    .resolve_store(request.provider_ref.as_ref(), &request.source_namespace)?;
                let push = PushRequest::from_wire(request)?;
                store.push_secret(&call, &push).await?;
                Ok(wire::PushSecretResponse {})
            })
            .await
    }

    async fn delete_secret(
        &self,
        request: Request<wire::DeleteSecretRequest>,
    ) -> Result<Response<wire::DeleteSecretResponse>, Status> {
        let wire::DeleteSecretRequest {
            remote_ref,
            provider_ref,
            source_namespace,
        } = request.into_inner();
        let object = describe(provider_ref.as_ref(), &source_namespace);
        self.0
            .observe("DeleteSecret", object, async {
                let (store, call) = self.0.resolve_store(provider_ref.as_ref(), &source_namespace)?;
                let remote = PushRemoteRef::from_wire(remote_ref)?;
                store.delete_secret(&call, &remote).await?;
                Ok(wire::DeleteSecretResponse {})
            })
            .await
    }

    async fn secret_exists(
        &self,
        request: Request<wire::SecretExistsRequest>,
    ) -> Result<Response<wire::SecretExistsResponse>, Status> {
        let wire::SecretExistsRequest {
            remote_ref,
            provider_ref,
            source_namespace,
        } = request.into_inner();
        let object = describe(provider_ref.as_ref(), &source_namespace);
        self.0
            .observe("SecretExists", object, async {
                let (store, call) = self.0.resolve_store(provider_ref.as_ref(), &source_namespace)?;
                let remote = PushRemoteRef::from_wire(remote_ref)?;
                let exists = store.secret_exists(&call, &remote).await?;
                Ok(wire::SecretExistsResponse { exists })
            })
            .await
    }

    async fn get_all_secrets(
        &self,
        request: Request<wire::GetAllSecretsRequest>,
    ) -> Result<Response<wire::GetAllSecretsResponse>, Status> {
        let deadline = request_deadline(&request);
        let request = request.into_inner();
        let object = describe(request.provider_ref.as_ref(), &request.source_namespace);
        self.0
            .observe("GetAllSecrets", object, async {
                let (store, call) = self
                    .0
                    .resolve_store(request.provider_ref.as_ref(), &request.source_namespace)?;
                let find = FindQuery::from_wire(request.find, deadline).await?;
                let secrets = store.get_all_secrets(&call, &find).await?;
                Ok(wire::GetAllSecretsResponse {
                    secrets: map_into_wire(secrets),
                })
            })
            .await
    }

    async fn validate(
        &self,
        request: Request<wire::ValidateRequest>,
    ) -> Result<Response<wire::ValidateResponse>, Status> {
        let request = request.into_inner();
        let object = describe(request.provider_ref.as_ref(), &request.source_namespace);
        self.0
            .observe("Validate", object, async {
                let (store, call) = match self
                    .0
                    .resolve_store(request.provider_ref.as_ref(), &request.source_namespace)
                {
                    Ok(resolved) => resolved,
                    // A missing object or a bad annotation is a configuration problem: in-band.
                    Err(error) if error.kind() == ErrorKind::InvalidConfig => {
                        return Ok(wire::ValidateResponse {
                            valid: false,
                            error: error.to_string(),
                            warnings: Vec::new(),
                        });
                    }
                    Err(error) => return Err(error),
                };
                let validation = store.validate(&call).await;
                Ok(wire::ValidateResponse {
                    valid: validation.error.is_none(),
                    error: validation.error.unwrap_or_default(),
                    warnings: validation.warnings,
                })
            })
            .await
    }

    async fn capabilities(
        &self,
        request: Request<wire::CapabilitiesRequest>,
    ) -> Result<Response<wire::CapabilitiesResponse>, Status> {
        let request = request.into_inner();
        let object = describe(request.provider_ref.as_ref(), &request.source_namespace);
        self.0
            .observe("Capabilities", object, async {
                let reference = request
                    .provider_ref
                    .as_ref()
                    .ok_or_else(|| Error::invalid_request("provider_ref is missing"))?;
                let store = self.0.registry.store(&reference.api_version, &reference.kind)?;
                Ok(wire::CapabilitiesResponse {
                    capabilities: wire::SecretStoreCapabilities::from(store.capabilities()) as i32,
                })
            })
            .await
    }
}

/// `generator.v1.GeneratorProvider`.
pub(crate) struct GeneratorService(pub Services);

impl GeneratorService {
    fn resolve(
        &self,
        reference: Option<&gen_wire::GeneratorRef>,
        source_namespace: &str,
    ) -> Result<(Arc<dyn ErasedGenerator>, Scope, String)> {
        let reference = reference.ok_or_else(|| Error::invalid_request("generator_ref is missing"))?;
        let generator = self.0.registry.generator(&reference.api_version, &reference.kind)?;
        // Generators are always reached through a namespaced ExternalSecret.
        let scope = Scope::from_request("", &reference.namespace, source_namespace)?;
        Ok((generator, scope, reference.name.clone()))
    }
}

#[tonic::async_trait]
impl gen_wire::generator_provider_server::GeneratorProvider for GeneratorService {
    async fn generate(
        &self,
        request: Request<gen_wire::GenerateRequest>,
    ) -> Result<Response<gen_wire::GenerateResponse>, Status> {
        let request = request.into_inner();
        let object = describe_generator(request.generator_ref.as_ref(), &request.source_namespace);
        self.0
            .observe("Generate", object, async {
                let (generator, scope, name) =
                    self.resolve(request.generator_ref.as_ref(), &request.source_namespace)?;
                let gvk = generator.gvk();
                let object = self.0.find_object(&gvk, &scope, &name)?.ok_or_else(|| {
                    Error::invalid_config(format!(
                        "{} not found",
                        object_name(gvk.kind, scope.object_namespace(), &name)
                    ))
                })?;
                let call = Resolved {
                    object,
                    scope,
                    source: Arc::clone(&self.0.source),
                };
                let (secrets, state) = generator.generate(&call).await?;
                Ok(gen_wire::GenerateResponse {
                    secrets: map_into_wire(secrets),
                    state,
                })
            })
            .await
    }

    async fn cleanup(
        &self,
        request: Request<gen_wire::CleanupRequest>,
    ) -> Result<Response<gen_wire::CleanupResponse>, Status> {
        let request = request.into_inner();
        let object = describe_generator(request.generator_ref.as_ref(), &request.source_namespace);
        self.0
            .observe("Cleanup", object, async {
                let (generator, scope, name) =
                    self.resolve(request.generator_ref.as_ref(), &request.source_namespace)?;
                let gvk = generator.gvk();
                let found = self.0.find_object(&gvk, &scope, &name)?;
                let exists = found.is_some();
                // The generator object may be gone by now; cleanup still runs.
                let object = found.unwrap_or_else(|| {
                    Arc::new(StoredObject {
                        api_version: gvk.api_version(),
                        kind: gvk.kind.to_string(),
                        name: name.clone(),
                        namespace: scope.object_namespace().to_string(),
                        uid: String::new(),
                        resource_version: String::new(),
                        generation: None,
                        annotations: Default::default(),
                        spec: serde_json::Value::Null,
                        status: Default::default(),
                    })
                });
                let call = Resolved {
                    object,
                    scope,
                    source: Arc::clone(&self.0.source),
                };
                generator.cleanup(&call, exists, &request.state).await?;
                Ok(gen_wire::CleanupResponse {})
            })
            .await
    }
}
