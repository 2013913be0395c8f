//! From a wire request to what it addresses: every request type names a provider
//! or generator object ([`WireRequest`]); the registry finds its kind, the scope
//! ([`crate::scope`]) decides the namespaces, the source finds the object
//! ([`Target::resolve`]). One path for both services.

use super::adapters::{ErasedGenerator, ErasedStore};
use super::service::Services;
use crate::display::{ObjectName, object_name};
use crate::scope::Scope;
use crate::source::{Source, StoredObject};
use crate::{Error, ErrorKind, Gvk, Result};
use eso_proto::generator::v1 as gen_wire;
use eso_proto::provider::v1 as wire;
use std::sync::Arc;

/// A provider object found for a request, with the namespaces the request may touch.
pub(crate) struct Resolved {
    pub object: Arc<StoredObject>,
    pub scope: Scope,
    pub source: Arc<dyn Source>,
}

/// The object reference of a request, moved out of the wire message.
pub(crate) struct Reference {
    api_version: String,
    kind: String,
    name: String,
    namespace: String,
    /// Empty for generators (always reached through a namespaced ExternalSecret).
    store_ref_kind: String,
}

/// Which object a request addresses, and from where.
pub(crate) struct Address {
    /// The wire field, for "… is missing".
    field: &'static str,
    reference: Option<Reference>,
    source_namespace: String,
}

/// A request of either service: its method name, and the reference and source
/// namespace it carries (taken out; the rest of the message is the call's payload).
pub(crate) trait WireRequest: Send + 'static {
    /// The gRPC method, as metrics and logs name it.
    const METHOD: &'static str;
    /// What the call needs resolved before it runs.
    type Target: Target;
    /// Whether the call reads the caller's deadline (`grpc-timeout`), to stop
    /// blocking work when it passes; parsed only for those that do.
    const USES_DEADLINE: bool = false;
    /// Moves the reference and the source namespace out of the message.
    fn take_address(&mut self) -> Address;
}

/// What a call runs against, found from its [`Address`].
pub(crate) trait Target: Sized + Send {
    fn resolve(services: &Services, address: &Address) -> Result<Self>;
}

macro_rules! wire_requests {
    ($($service:ident :: $request:ident => $method:literal, $target:ty, $field:ident, $store_ref_kind:ident $(, $deadline:ident)?;)*) => {$(
        impl WireRequest for $service::$request {
            const METHOD: &'static str = $method;
            type Target = $target;
            $(const USES_DEADLINE: bool = wire_requests!(@$deadline);)?
            fn take_address(&mut self) -> Address {
                Address {
                    field: stringify!($field),
                    reference: self.$field.take().map(|r| Reference {
                        api_version: r.api_version,
                        kind: r.kind,
                        name: r.name,
                        namespace: r.namespace,
                        store_ref_kind: wire_requests!(@kind r $store_ref_kind),
                    }),
                    source_namespace: std::mem::take(&mut self.source_namespace),
                }
            }
        }
    )*};
    (@kind $r:ident store_ref_kind) => { $r.store_ref_kind };
    (@kind $r:ident none) => { String::new() };
    (@deadline) => { true };
}

wire_requests! {
    wire::GetSecretRequest => "GetSecret", StoreObject, provider_ref, store_ref_kind;
    wire::GetSecretMapRequest => "GetSecretMap", StoreObject, provider_ref, store_ref_kind;
    wire::GetAllSecretsRequest => "GetAllSecrets", StoreObject, provider_ref, store_ref_kind, deadline;
    wire::PushSecretRequest => "PushSecret", StoreObject, provider_ref, store_ref_kind;
    wire::DeleteSecretRequest => "DeleteSecret", StoreObject, provider_ref, store_ref_kind;
    wire::SecretExistsRequest => "SecretExists", StoreObject, provider_ref, store_ref_kind;
    wire::ValidateRequest => "Validate", InBand<StoreObject>, provider_ref, store_ref_kind;
    wire::CapabilitiesRequest => "Capabilities", StoreKind, provider_ref, store_ref_kind;
    gen_wire::GenerateRequest => "Generate", GeneratorObject, generator_ref, none;
    gen_wire::CleanupRequest => "Cleanup", GeneratorCleanup, generator_ref, none;
}

impl Address {
    fn reference(&self) -> Result<&Reference> {
        self.reference
            .as_ref()
            .ok_or_else(|| Error::invalid_request(format!("{} is missing", self.field)))
    }

    /// `Kind namespace/name` of the reference (the source namespace when it names
    /// none), formatted only when logged; `-` without one.
    pub(crate) fn describe(&self) -> Described<'_> {
        match &self.reference {
            Some(r) => {
                let namespace = if r.namespace.is_empty() {
                    &self.source_namespace
                } else {
                    &r.namespace
                };
                Described(Some(object_name(&r.kind, namespace, &r.name)))
            }
            None => Described(None),
        }
    }

    /// The scope of the reference and the object it names, if the source has it.
    fn find(&self, services: &Services, gvk: &Gvk) -> Result<(Scope, Option<Arc<StoredObject>>)> {
        let reference = self.reference()?;
        let scope = Scope::from_request(&reference.store_ref_kind, &reference.namespace, &self.source_namespace)?;
        if reference.name.is_empty() {
            return Err(Error::invalid_request("the reference's name is empty"));
        }
        let object = services.source.object(gvk, scope.object_namespace(), &reference.name)?;
        Ok((scope, object))
    }

    /// The object the reference names, which must exist, with the scope its
    /// annotations set.
    fn resolve(&self, services: &Services, gvk: &Gvk) -> Result<Resolved> {
        let (scope, object) = self.find(services, gvk)?;
        let object = object.ok_or_else(|| self.not_found(gvk, &scope))?;
        let scope = scope
            .with_object_annotations(&object.annotations)
            .map_err(|e| e.context(object.as_ref()))?;
        Ok(Resolved {
            object,
            scope,
            source: Arc::clone(&services.source),
        })
    }

    fn not_found(&self, gvk: &Gvk, scope: &Scope) -> Error {
        let name = self.reference.as_ref().map_or("", |r| r.name.as_str());
        Error::invalid_config(format!(
            "{} not found",
            object_name(gvk.kind, scope.object_namespace(), name)
        ))
    }
}

/// A request's object, for logs and metrics (see [`Address::describe`]).
pub(crate) struct Described<'a>(Option<ObjectName<'a>>);

impl std::fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(object) => object.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// A store kind and one of its objects: the data calls.
pub(crate) struct StoreObject {
    pub store: Arc<dyn ErasedStore>,
    pub call: Resolved,
}

impl Target for StoreObject {
    fn resolve(services: &Services, address: &Address) -> Result<Self> {
        let reference = address.reference()?;
        let store = services.registry.store(&reference.api_version, &reference.kind)?;
        let call = address.resolve(services, &store.gvk())?;
        Ok(StoreObject { store, call })
    }
}

/// Validate answers a configuration problem (a missing object, a bad annotation)
/// in-band, as `valid: false`; other failures are the call's status.
pub(crate) type InBand<T> = std::result::Result<T, Error>;

impl<T: Target> Target for InBand<T> {
    fn resolve(services: &Services, address: &Address) -> Result<Self> {
        match T::resolve(services, address) {
            Ok(target) => Ok(Ok(target)),
            Err(error) if error.kind() == ErrorKind::InvalidConfig => Ok(Err(error)),
            Err(error) => Err(error),
        }
    }
}

/// A store kind alone: Capabilities needs no object.
pub(crate) struct StoreKind(pub Arc<dyn ErasedStore>);

impl Target for StoreKind {
    fn resolve(services: &Services, address: &Address) -> Result<Self> {
        let reference = address.reference()?;
        Ok(StoreKind(
            services.registry.store(&reference.api_version, &reference.kind)?,
        ))
    }
}

/// A generator kind and one of its objects: Generate.
pub(crate) struct GeneratorObject {
    pub generator: Arc<dyn ErasedGenerator>,
    pub call: Resolved,
}

impl Target for GeneratorObject {
    fn resolve(services: &Services, address: &Address) -> Result<Self> {
        let reference = address.reference()?;
        let generator = services.registry.generator(&reference.api_version, &reference.kind)?;
        let call = address.resolve(services, &generator.gvk())?;
        Ok(GeneratorObject { generator, call })
    }
}

/// A generator kind and its object, which may be gone by now: Cleanup still runs
/// (against [`StoredObject::absent`]).
pub(crate) struct GeneratorCleanup {
    pub generator: Arc<dyn ErasedGenerator>,
    pub call: Resolved,
    pub exists: bool,
}

impl Target for GeneratorCleanup {
    fn resolve(services: &Services, address: &Address) -> Result<Self> {
        let reference = address.reference()?;
        let generator = services.registry.generator(&reference.api_version, &reference.kind)?;
        let gvk = generator.gvk();
        let (scope, found) = address.find(services, &gvk)?;
        let exists = found.is_some();
        let object = match found {
            Some(object) => object,
            None => Arc::new(StoredObject::absent(&gvk, scope.object_namespace(), &reference.name)),
        };
        let scope = scope
            .with_object_annotations(&object.annotations)
            .map_err(|e| e.context(object.as_ref()))?;
        Ok(GeneratorCleanup {
            generator,
            call: Resolved {
                object,
                scope,
                source: Arc::clone(&services.source),
            },
            exists,
        })
    }
}
