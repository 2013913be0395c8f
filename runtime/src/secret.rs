//! Secret values: bytes whose `Debug` and `Display` never show them and whose memory
//! is zeroed when dropped.

use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroizing;

/// A secret value. Formatting it prints `<redacted N bytes>`; dropping it zeroes
/// its memory.
///
/// ```
/// use eso_runtime::SecretValue;
///
/// let value = SecretValue::from("hunter2");
/// assert_eq!(format!("{value:?}"), "SecretValue(<redacted 7 bytes>)");
/// assert_eq!(value.expose(), b"hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    /// Wraps bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretValue(Zeroizing::new(bytes))
    }

    /// The bytes. Named so that every read of a secret is easy to find.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as UTF-8, if they are.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Hands the bytes to the wire, moved rather than copied: they leave our
    /// zeroing either way, as the wire buffers belong to the gRPC stack from here on.
    pub fn into_wire(mut self) -> Vec<u8> {
        std::mem::take(&mut *self.0)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue(<redacted {} bytes>)", self.0.len())
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

impl From<Vec<u8>> for SecretValue {
    fn from(bytes: Vec<u8>) -> Self {
        SecretValue::new(bytes)
    }
}

impl From<&[u8]> for SecretValue {
    fn from(bytes: &[u8]) -> Self {
        SecretValue::new(bytes.to_vec())
    }
}

impl From<&str> for SecretValue {
    fn from(text: &str) -> Self {
        SecretValue::new(text.as_bytes().to_vec())
    }
}

impl From<String> for SecretValue {
    fn from(text: String) -> Self {
        SecretValue::new(text.into_bytes())
    }
}

/// Secrets by name, as GetSecretMap, GetAllSecrets and Generate return them.
pub type SecretMap = BTreeMap<String, SecretValue>;

pub(crate) fn map_into_wire(map: SecretMap) -> std::collections::HashMap<String, Vec<u8>> {
    map.into_iter().map(|(k, v)| (k, v.into_wire())).collect()
}

pub(crate) fn map_from_wire(map: std::collections::HashMap<String, Vec<u8>>) -> SecretMap {
    map.into_iter().map(|(k, v)| (k, SecretValue::new(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_debug_redact() {
        let value = SecretValue::from("s3cr3t");
        assert!(!format!("{value} {value:?}").contains("s3cr3t"));
        let map: SecretMap = [("a".to_string(), value)].into();
        assert!(!format!("{map:?}").contains("s3cr3t"));
    }
}
