//! The RPCs a provider serves, read from the wire contract's descriptor set
//! ([`eso_proto::FILE_DESCRIPTOR_SET`]), so `eso-gen call` knows every method of
//! both services without code per method.

use anyhow::{Context, Result, bail};
use prost_reflect::{DescriptorPool, MethodDescriptor};

/// The services and methods of the wire contract.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: DescriptorPool,
}

impl Catalog {
    /// Decodes the descriptor set compiled into `eso-proto`.
    pub fn load() -> Result<Self> {
        let pool = DescriptorPool::decode(eso_proto::FILE_DESCRIPTOR_SET)
            .context("the built-in protobuf descriptors are invalid (a bug in eso-gen)")?;
        Ok(Catalog { pool })
    }

    /// Every method, service by service.
    pub fn methods(&self) -> impl Iterator<Item = MethodDescriptor> + '_ {
        self.pool
            .services()
            .flat_map(|service| service.methods().collect::<Vec<_>>())
    }

    /// Finds a method by its name (`GetSecret`, case-insensitive) or its full name
    /// (`provider.v1.SecretStoreProvider/GetSecret`, with or without a leading `/`,
    /// or with a `.` before the method).
    pub fn find(&self, name: &str) -> Result<MethodDescriptor> {
        let wanted = name.trim().trim_start_matches('/');
        if let Some(method) = self.methods().find(|method| {
            let service = method.parent_service();
            wanted == format!("{}/{}", service.full_name(), method.name()) || wanted == method.full_name()
        }) {
            return unary(method);
        }
        let matches: Vec<MethodDescriptor> = self
            .methods()
            .filter(|method| method.name().eq_ignore_ascii_case(wanted))
            .collect();
        match matches.as_slice() {
            [method] => unary(method.clone()),
            [] => bail!("unknown method {name:?}; the methods are:\n{}", self.listing()),
            several => bail!(
                "method {name:?} is ambiguous; give one of: {}",
                several.iter().map(path).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// The methods, one service per line: `provider.v1.SecretStoreProvider: GetSecret, …`.
    pub fn listing(&self) -> String {
        self.pool
            .services()
            .map(|service| {
                let names: Vec<String> = service.methods().map(|method| method.name().to_string()).collect();
                format!("  {}: {}", service.full_name(), names.join(", "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Refuses streaming methods: `eso-gen call` sends one request and reads one answer.
fn unary(method: MethodDescriptor) -> Result<MethodDescriptor> {
    if method.is_client_streaming() || method.is_server_streaming() {
        bail!(
            "{} is a streaming method; eso-gen call supports unary methods only",
            path(&method)
        );
    }
    Ok(method)
}

/// The HTTP/2 path of a method: `/provider.v1.SecretStoreProvider/GetSecret`.
pub fn path(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_methods_by_short_and_full_name() -> Result<()> {
        let catalog = Catalog::load()?;
        for name in [
            "GetSecret",
            "getsecret",
            "provider.v1.SecretStoreProvider/GetSecret",
            "/provider.v1.SecretStoreProvider/GetSecret",
            "provider.v1.SecretStoreProvider.GetSecret",
        ] {
            assert_eq!(path(&catalog.find(name)?), "/provider.v1.SecretStoreProvider/GetSecret");
        }
        assert_eq!(
            path(&catalog.find("Cleanup")?),
            "/generator.v1.GeneratorProvider/Cleanup"
        );
        Ok(())
    }

    #[test]
    fn every_wire_method_is_there() -> Result<()> {
        let catalog = Catalog::load()?;
        let names: Vec<String> = catalog.methods().map(|m| m.name().to_string()).collect();
        for name in [
            "GetSecret",
            "GetSecretMap",
            "GetAllSecrets",
            "PushSecret",
            "DeleteSecret",
            "SecretExists",
            "Validate",
            "Capabilities",
            "Generate",
            "Cleanup",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
        }
        Ok(())
    }

    #[test]
    fn unknown_method_lists_the_methods() -> Result<()> {
        let catalog = Catalog::load()?;
        let error = catalog
            .find("GetSecrets")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("unknown method \"GetSecrets\""), "{error}");
        assert!(error.contains("provider.v1.SecretStoreProvider: GetSecret"), "{error}");
        assert!(error.contains("Generate, Cleanup"), "{error}");
        Ok(())
    }
}
