//! The gRPC services: wire requests in, checks and dispatch, wire responses out.
//! Every call is timed and counted, and logged with its method and object — never
//! with a value.

use super::adapters::Validation;
use super::call::{GeneratorCleanup, GeneratorObject, InBand, StoreKind, StoreObject, Target, WireRequest};
use super::metrics::Metrics;
use super::registry::Registry;
use crate::secret::map_into_wire;
use crate::source::Source;
use crate::{ErrorKind, FindQuery, PushRemoteRef, PushRequest, RemoteRef, Result};
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

    /// The one path of every call: the reference and source namespace are taken
    /// out of the message, described for logs, resolved to the call's
    /// [`Target`](super::call::Target), and `answer` runs with the target, the rest
    /// of the message and the caller's deadline — timed, counted and logged by
    /// [`observe`](Self::observe).
    pub(crate) async fn handle<R, T, F, Fut>(&self, request: Request<R>, answer: F) -> Result<Response<T>, Status>
    where
        R: WireRequest,
        F: FnOnce(R::Target, R, Option<Instant>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let deadline = if R::USES_DEADLINE {
            request_deadline(&request)
        } else {
            None
        };
        let mut message = request.into_inner();
        let address = message.take_address();
        self.observe(R::METHOD, address.describe(), async {
            let target = R::Target::resolve(self, &address)?;
            answer(target, message, deadline).await
        })
        .await
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

/// `provider.v1.SecretStoreProvider`.
pub(crate) struct StoreService(pub Services);

#[tonic::async_trait]
impl wire::secret_store_provider_server::SecretStoreProvider for StoreService {
    async fn get_secret(
        &self,
        request: Request<wire::GetSecretRequest>,
    ) -> Result<Response<wire::GetSecretResponse>, Status> {
        self.0
            .handle(request, |StoreObject { store, call }, message, _| async move {
                let remote = RemoteRef::from_wire(message.remote_ref)?;
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
        self.0
            .handle(request, |StoreObject { store, call }, message, _| async move {
                let remote = RemoteRef::from_wire(message.remote_ref)?;
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
        self.0
            .handle(request, |StoreObject { store, call }, message, _| async move {
                let push = PushRequest::from_wire(message)?;
                store.push_secret(&call, &push).await?;
                Ok(wire::PushSecretResponse {})
            })
            .await
    }

    async fn delete_secret(
        &self,
        request: Request<wire::DeleteSecretRequest>,
    ) -> Result<Response<wire::DeleteSecretResponse>, Status> {
        self.0
            .handle(request, |StoreObject { store, call }, message, _| async move {
                let remote = PushRemoteRef::from_wire(message.remote_ref)?;
                store.delete_secret(&call, &remote).await?;
                Ok(wire::DeleteSecretResponse {})
            })
            .await
    }

    async fn secret_exists(
        &self,
        request: Request<wire::SecretExistsRequest>,
    ) -> Result<Response<wire::SecretExistsResponse>, Status> {
        self.0
            .handle(request, |StoreObject { store, call }, message, _| async move {
                let remote = PushRemoteRef::from_wire(message.remote_ref)?;
                let exists = store.secret_exists(&call, &remote).await?;
                Ok(wire::SecretExistsResponse { exists })
            })
            .await
    }

    async fn get_all_secrets(
        &self,
        request: Request<wire::GetAllSecretsRequest>,
    ) -> Result<Response<wire::GetAllSecretsResponse>, Status> {
        self.0
            .handle(request, |StoreObject { store, call }, message, deadline| async move {
                let find = FindQuery::from_wire(message.find, deadline).await?;
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
        self.0
            .handle(request, |resolved: InBand<StoreObject>, _, _| async move {
                let validation = match resolved {
                    Ok(StoreObject { store, call }) => store.validate(&call).await,
                    Err(error) => Validation {
                        error: Some(error.to_string()),
                        warnings: Vec::new(),
                    },
                };
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
        self.0
            .handle(request, |StoreKind(store), _, _| async move {
                Ok(wire::CapabilitiesResponse {
                    capabilities: wire::SecretStoreCapabilities::from(store.capabilities()) as i32,
                })
            })
            .await
    }
}

/// `generator.v1.GeneratorProvider`.
pub(crate) struct GeneratorService(pub Services);

#[tonic::async_trait]
impl gen_wire::generator_provider_server::GeneratorProvider for GeneratorService {
    async fn generate(
        &self,
        request: Request<gen_wire::GenerateRequest>,
    ) -> Result<Response<gen_wire::GenerateResponse>, Status> {
        self.0
            .handle(request, |GeneratorObject { generator, call }, _, _| async move {
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
        self.0
            .handle(
                request,
                |GeneratorCleanup {
                     generator,
                     call,
                     exists,
                 },
                 message,
                 _| async move {
                    generator.cleanup(&call, exists, &message.state).await?;
                    Ok(gen_wire::CleanupResponse {})
                },
            )
            .await
    }
}
