//! The CycloneDX 1.6 JSON document of a [`Walk`]: the binary as `metadata.component`,
//! every crate a `library` component (purl `pkg:cargo/NAME@VERSION`, license expression,
//! the `.crate` SHA-256, scope `required` when linked and `excluded` when it only runs at
//! build time), and the dependency graph.
//!
//! The output is deterministic: components and dependencies sorted, no timestamp unless
//! `SOURCE_DATE_EPOCH` gives one, and the serial number derived from the content.

use super::packages::Facts;
use super::{CrateId, Role, Walk};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The CycloneDX version written.
pub(crate) const SPEC_VERSION: &str = "1.6";

/// The property that names a component's [`Role`].
pub(crate) const ROLE_PROPERTY: &str = "eso-gen:role";

/// The SBOM document. `timestamp` is RFC 3339 or absent.
pub(crate) fn document(walk: &Walk, facts: &BTreeMap<CrateId, Facts>, timestamp: Option<&str>) -> Value {
    let no_facts = Facts::default();
    let facts_of = |id: &CrateId| facts.get(id).unwrap_or(&no_facts);
    let mut root = component(&walk.root, facts_of(&walk.root));
    root["type"] = json!("application");
    root["name"] = json!(walk.bin);
    root["properties"] = json!([
        {"name": "eso-gen:cargo-package", "value": walk.root.name},
        {"name": "eso-gen:target", "value": walk.target},
    ]);
    let components: Vec<Value> = walk
        .crates
        .iter()
        .map(|(id, role)| {
            let facts = facts_of(id);
            let mut component = component(id, facts);
            component["scope"] = json!(if *role == Role::Linked { "required" } else { "excluded" });
            // Where it comes from: cargo's source id, or `path` for a local crate (no
            // folder: the SBOM must not change with the checkout's location).
            let source = facts.source.as_deref().unwrap_or("path");
            component["properties"] = json!([
                {"name": ROLE_PROPERTY, "value": role.as_str()},
                {"name": "eso-gen:source", "value": source},
            ]);
            component
        })
        .collect();
    let dependencies: Vec<Value> = walk
        .edges
        .iter()
        .map(|(id, deps)| json!({"ref": purl(id), "dependsOn": deps.iter().map(purl).collect::<Vec<_>>()}))
        .collect();
    let mut metadata = json!({
        "tools": {"components": [{"type": "application", "name": "eso-gen", "version": env!("CARGO_PKG_VERSION")}]},
        "component": root,
    });
    if let Some(timestamp) = timestamp {
        metadata["timestamp"] = json!(timestamp);
    }
    let mut document = json!({
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    });
    document["serialNumber"] = json!(serial_number(&document));
    document
}

/// A component's common fields.
fn component(id: &CrateId, facts: &Facts) -> Value {
    let purl = purl(id);
    let mut component = json!({
        "type": "library",
        "bom-ref": purl,
        "name": id.name,
        "version": id.version,
        "purl": purl,
    });
    if let Some(licenses) = licenses(facts) {
        component["licenses"] = licenses;
    }
    if let Some(checksum) = &facts.checksum {
        component["hashes"] = json!([{"alg": "SHA-256", "content": checksum}]);
    }
    component
}

/// `pkg:cargo/NAME@VERSION`, the version percent-encoded (`+` is `%2B`).
pub(crate) fn purl(id: &CrateId) -> String {
    let mut version = String::new();
    for byte in id.version.bytes() {
        if byte.is_ascii_alphanumeric() || b".-_~".contains(&byte) {
            version.push(char::from(byte));
        } else {
            version.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("pkg:cargo/{}@{version}", id.name)
}

/// The license as an SPDX expression (cargo's deprecated `/` read as `OR`), or a named
/// license pointing at the license file.
fn licenses(facts: &Facts) -> Option<Value> {
    if let Some(license) = &facts.license {
        let expression = license
            .split('/')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" OR ");
        return Some(json!([{"expression": expression}]));
    }
    facts
        .license_file
        .as_ref()
        .map(|file| json!([{"license": {"name": format!("the license file {file} of the crate")}}]))
}

/// `urn:uuid:…` from the SHA-256 of the document (without its serial number): the same
/// SBOM always gets the same serial, another one another. A version 8 (custom) UUID.
fn serial_number(document: &Value) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, document.to_string().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The SBOM's timestamp: `SOURCE_DATE_EPOCH` (seconds since 1970) as RFC 3339, or none
/// when it is not set, so that a build is reproducible either way.
pub(crate) fn timestamp(source_date_epoch: Option<&str>) -> Result<Option<String>> {
    let Some(text) = source_date_epoch else {
        return Ok(None);
    };
    let seconds: i64 = text
        .trim()
        .parse()
        .with_context(|| format!("SOURCE_DATE_EPOCH={text:?} is not a number of seconds"))?;
    let time = time::OffsetDateTime::from_unix_timestamp(seconds)
        .with_context(|| format!("SOURCE_DATE_EPOCH={text:?} is out of range"))?;
    let formatted = time
        .format(&time::format_description::well_known::Rfc3339)
        .context("formatting SOURCE_DATE_EPOCH")?;
    Ok(Some(formatted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn id(name: &str, version: &str) -> CrateId {
        CrateId {
            name: name.into(),
            version: version.into(),
        }
    }

    fn walk() -> Walk {
        let root = id("acme", "0.1.0");
        let tokio = id("tokio", "1.0.0");
        let macros = id("tokio-macros", "2.0.0");
        Walk {
            bin: "acme-server".into(),
            root: root.clone(),
            target: "x86_64-unknown-linux-gnu".into(),
            crates: BTreeMap::from([(tokio.clone(), Role::Linked), (macros.clone(), Role::ProcMacro)]),
            edges: BTreeMap::from([
                (root.clone(), BTreeSet::from([tokio.clone()])),
                (tokio.clone(), BTreeSet::from([macros.clone()])),
                (macros.clone(), BTreeSet::new()),
            ]),
        }
    }

    fn facts() -> BTreeMap<CrateId, Facts> {
        BTreeMap::from([
            (
                id("acme", "0.1.0"),
                Facts {
                    license: Some("Apache-2.0".into()),
                    ..Facts::default()
                },
            ),
            (
                id("tokio", "1.0.0"),
                Facts {
                    license: Some("MIT".into()),
                    checksum: Some("ab12".into()),
                    source: Some("registry+x".into()),
                    ..Facts::default()
                },
            ),
            (
                id("tokio-macros", "2.0.0"),
                Facts {
                    license: Some("MIT/Apache-2.0".into()),
                    ..Facts::default()
                },
            ),
        ])
    }

    #[test]
    fn the_document_describes_the_binary_and_its_crates() {
        let document = document(&walk(), &facts(), None);
        assert_eq!(document["bomFormat"], "CycloneDX");
        assert_eq!(document["specVersion"], "1.6");
        let root = &document["metadata"]["component"];
        assert_eq!(root["type"], "application");
        assert_eq!(root["name"], "acme-server");
        assert_eq!(root["purl"], "pkg:cargo/acme@0.1.0");
        assert_eq!(root["licenses"][0]["expression"], "Apache-2.0");
        assert!(document["metadata"].get("timestamp").is_none());
        let components = document["components"].as_array().cloned().unwrap_or_default();
        assert_eq!(components.len(), 2);
        assert_eq!(components[0]["name"], "tokio");
        assert_eq!(components[0]["scope"], "required");
        assert_eq!(components[0]["hashes"][0]["content"], "ab12");
        assert_eq!(components[0]["properties"][0]["value"], "linked");
        assert_eq!(components[0]["properties"][1]["value"], "registry+x");
        assert_eq!(components[1]["properties"][1]["value"], "path");
        assert_eq!(components[1]["scope"], "excluded");
        assert_eq!(components[1]["licenses"][0]["expression"], "MIT OR Apache-2.0");
        assert_eq!(components[1]["properties"][0]["value"], "proc-macro");
        assert!(components[1].get("hashes").is_none());
        assert_eq!(
            document["dependencies"][0],
            json!({"ref": "pkg:cargo/acme@0.1.0", "dependsOn": ["pkg:cargo/tokio@1.0.0"]})
        );
    }

    #[test]
    fn the_serial_number_follows_the_content() {
        let one = document(&walk(), &facts(), None);
        assert_eq!(one, document(&walk(), &facts(), None));
        let serial = one["serialNumber"].as_str().unwrap_or_default().to_string();
        assert_eq!(serial.len(), "urn:uuid:".len() + 36, "{serial}");
        assert_eq!(&serial[9 + 14..9 + 15], "8", "version 8: {serial}");
        let dated = document(&walk(), &facts(), Some("2024-01-01T00:00:00Z"));
        assert_ne!(dated["serialNumber"], one["serialNumber"]);
        assert_eq!(dated["metadata"]["timestamp"], "2024-01-01T00:00:00Z");
    }

    #[test]
    fn purls_encode_the_version() {
        assert_eq!(
            purl(&id("serde_yaml", "0.9.34+deprecated")),
            "pkg:cargo/serde_yaml@0.9.34%2Bdeprecated"
        );
        assert_eq!(purl(&id("syn", "2.0.1-rc.1")), "pkg:cargo/syn@2.0.1-rc.1");
    }

    #[test]
    fn the_timestamp_comes_from_source_date_epoch() -> Result<()> {
        assert_eq!(timestamp(None)?, None);
        assert_eq!(timestamp(Some("1700000000"))?.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert!(format!("{:#}", timestamp(Some("soon")).err().context("not a number")?).contains("SOURCE_DATE_EPOCH"));
        Ok(())
    }
}
