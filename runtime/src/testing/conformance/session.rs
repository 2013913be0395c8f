//! One run's state: the client, the target, what Capabilities said, every error
//! message the provider sent (for the leak check), every value the suite knows
//! (for the leak check and redaction), and the keys it wrote (deleted at the end).

use super::{Fixtures, Needs, Service, Target};
use crate::client::ProviderClient;
pub(crate) use crate::testing::expect::code_name;
use crate::testing::rpc::{Reply, Request, call, call_in_band};
use crate::testing::{TestResult, check};
use base64::Engine;
use eso_proto::provider::v1::SecretStoreCapabilities;
use std::collections::BTreeSet;
use std::time::Duration;
use tonic::Status;

/// Values shorter than this are not looked for in messages (nor redacted): a
/// two-letter value occurs in every sentence.
pub(crate) const MIN_SECRET_BYTES: usize = 4;

/// A value the suite knows, and how to name it without showing it.
#[derive(Clone)]
pub(crate) struct Known {
    pub(crate) label: String,
    pub(crate) value: Vec<u8>,
}

pub(crate) struct Session {
    pub(crate) client: ProviderClient,
    pub(crate) target: Target,
    pub(crate) fixtures: Fixtures,
    /// Capabilities' answer (stores only), or why there is none.
    pub(crate) capabilities: Result<SecretStoreCapabilities, String>,
    pub(crate) case_timeout: Duration,
    run_id: String,
    prefix: String,
    rng: u64,
    /// Every value the suite knows: fixtures, what it wrote, what was generated.
    pub(crate) known: Vec<Known>,
    /// Every error message (and in-band Validate error or warning) the provider sent:
    /// (the call, the message).
    pub(crate) messages: Vec<(String, String)>,
    /// Keys the suite wrote and has not deleted.
    pub(crate) pushed: BTreeSet<String>,
    /// A key the suite wrote that reads back as the value, once one is needed.
    seeded: Option<(String, Vec<u8>)>,
    /// Every key, version and property name the suite used (values inside one are not leaks).
    names: BTreeSet<String>,
}

impl Session {
    pub(crate) async fn start(
        client: ProviderClient,
        target: Target,
        fixtures: Fixtures,
        case_timeout: Duration,
    ) -> Self {
        let seed = run_seed();
        let run_id = format!("{:08x}", seed & 0xffff_ffff);
        let prefix = format!(
            "{}{run_id}-",
            fixtures
                .key_prefix
                .clone()
                .unwrap_or_else(|| "eso-conformance-".to_string())
        );
        let mut known = Vec::new();
        let mut names = BTreeSet::new();
        for fixture in &fixtures.secrets {
            names.insert(fixture.key.clone());
            names.extend(fixture.version.iter().cloned());
            names.extend(fixture.property.iter().cloned());
            if let Some(map) = &fixture.map {
                names.extend(map.keys().cloned());
            }
        }
        for fixture in &fixtures.secrets {
            if let Some(value) = &fixture.value {
                known.push(Known {
                    label: format!("fixture {}", fixture.label()),
                    value: value.clone(),
                });
            }
            for (key, value) in fixture.map.iter().flatten() {
                known.push(Known {
                    label: format!("fixture {} map key {}", fixture.label(), crate::display::bounded(key)),
                    value: value.clone(),
                });
            }
        }
        names.insert(prefix.clone());
        let mut session = Session {
            client,
            target,
            fixtures,
            capabilities: Err("not asked".into()),
            case_timeout,
            run_id,
            prefix,
            rng: seed | 1,
            known,
            messages: Vec::new(),
            pushed: BTreeSet::new(),
            seeded: None,
            names,
        };
        if session.target.service == Service::Store {
            let request = session.target.store_call().capabilities();
            let answer = tokio::time::timeout(case_timeout, session.call("Capabilities", request)).await;
            session.capabilities = match answer {
                Err(_) => Err(format!("Capabilities did not answer within {case_timeout:.0?}")),
                Ok(Err(status)) => Err(format!("Capabilities failed: {}", describe_status(&status))),
                Ok(Ok(Reply::Capabilities(response))) => SecretStoreCapabilities::try_from(response.capabilities)
                    .map_err(|_| format!("Capabilities answered the unknown value {}", response.capabilities)),
                Ok(Ok(_)) => Err("Capabilities answered another message".into()),
            };
        }
        session
    }

    /// Why a case needing `needs` does not apply, or `None` when it does.
    pub(crate) fn lacks(&self, needs: Needs) -> Option<String> {
        let service = self.target.service;
        match needs {
            Needs::Any => return None,
            Needs::Generator => {
                return (service != Service::Generator)
                    .then(|| "needs a generator target (the target is a store; see --service generator)".into());
            }
            _ if service != Service::Store => {
                return Some("needs a secret store target (the target is a generator)".into());
            }
            Needs::Store => return None,
            _ => {}
        }
        let capabilities = match &self.capabilities {
            Ok(capabilities) => *capabilities,
            Err(why) => {
                return Some(format!(
                    "needs {} and the capabilities are unknown: {why}",
                    needs.name()
                ));
            }
        };
        let name = capabilities.as_str_name();
        let (read, write) = match capabilities {
            SecretStoreCapabilities::ReadOnly => (true, false),
            SecretStoreCapabilities::WriteOnly => (false, true),
            SecretStoreCapabilities::ReadWrite => (true, true),
        };
        let applies = match needs {
            Needs::Read => read,
            Needs::Write => write,
            Needs::ReadWrite => read && write,
            Needs::ReadOnly => capabilities == SecretStoreCapabilities::ReadOnly,
            Needs::Any | Needs::Store | Needs::Generator => true,
        };
        (!applies).then(|| format!("needs {}; Capabilities says {name}", needs.name()))
    }

    pub(crate) fn can_read(&self) -> bool {
        self.lacks(Needs::Read).is_none()
    }

    pub(crate) fn can_write(&self) -> bool {
        self.lacks(Needs::Write).is_none()
    }

    pub(crate) fn can_read_write(&self) -> bool {
        self.lacks(Needs::ReadWrite).is_none()
    }

    /// A key under the suite's prefix and run id.
    pub(crate) fn key(&mut self, name: &str) -> String {
        let key = format!("{}{name}", self.prefix);
        self.names.insert(key.clone());
        key
    }

    /// The prefix of every key this run writes.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A namespace other than the target's.
    pub(crate) fn other_namespace(&self) -> String {
        if self.target.namespace == "eso-conformance-elsewhere" {
            "eso-conformance-elsewhere-2".into()
        } else {
            "eso-conformance-elsewhere".into()
        }
    }

    /// A key the backend does not hold.
    pub(crate) fn missing_key(&mut self) -> String {
        match self.fixtures.missing_key.clone() {
            Some(key) => key,
            None => self.key("missing"),
        }
    }

    /// A name no object has.
    pub(crate) fn missing_object(&self) -> String {
        format!("eso-conformance-missing-{}", self.run_id)
    }

    /// A fresh value no message could hold by chance: `cv-<run>-<name>-<random>`.
    pub(crate) fn value(&mut self, name: &str) -> Vec<u8> {
        let random = self.next_random();
        format!("cv-{}-{name}-{random:016x}", self.run_id).into_bytes()
    }

    /// `len` random printable bytes.
    pub(crate) fn printable(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let word = self.next_random();
            for byte in word.to_le_bytes() {
                if out.len() < len {
                    out.push(b'!' + byte % 94);
                }
            }
        }
        out
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: values that differ per run, not secrets.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Remembers a value (for the leak check and redaction).
    pub(crate) fn remember(&mut self, label: String, value: &[u8]) {
        if !self.known.iter().any(|k| k.value == value) {
            self.known.push(Known {
                label,
                value: value.to_vec(),
            });
        }
    }

    fn record(&mut self, what: &str, message: &str) {
        self.messages.push((what.to_string(), message.to_string()));
    }

    /// Makes a call and records any error message (and Validate's in-band error
    /// and warnings).
    pub(crate) async fn call(&mut self, what: &str, request: impl Into<Request>) -> Result<Reply, Status> {
        let result = call(&mut self.client, request).await;
        self.record_result(what, &result);
        result
    }

    /// [`call`](Self::call) with Validate's `valid: false` as a refusal (`FAILED_PRECONDITION`).
    pub(crate) async fn call_in_band(
        &mut self,
        what: &str,
        request: impl Into<Request>,
    ) -> (Result<Reply, Status>, bool) {
        let (result, in_band) = call_in_band(&mut self.client, request).await;
        self.record_result(what, &result);
        (result, in_band)
    }

    fn record_result(&mut self, what: &str, result: &Result<Reply, Status>) {
        match result {
            Err(status) => self.record(what, status.message()),
            Ok(Reply::Validate(response)) => {
                if !response.error.is_empty() {
                    self.record(what, &response.error);
                }
                for warning in &response.warnings {
                    self.record(what, warning);
                }
            }
            Ok(_) => {}
        }
    }

    /// PushSecret of `value` (as the Secret's key `value`) to `key`, under the
    /// fixtures' `pushProperty` when they give one; remembers both.
    pub(crate) async fn push(&mut self, key: &str, value: &[u8]) -> Result<(), Status> {
        self.remember(
            format!("the value the suite pushed to {}", crate::display::bounded(key)),
            value,
        );
        let property = self.fixtures.push_property.clone().unwrap_or_default();
        let mut request = self.target.store_call().push(&[], "value", key, &property, "");
        request.secret_data = [("value".to_string(), value.to_vec())].into_iter().collect();
        let result = self
            .call(&format!("PushSecret to {}", crate::display::bounded(key)), request)
            .await;
        // Written or not, try to delete it at the end.
        self.pushed.insert(key.to_string());
        result.map(|_| ())
    }

    /// The property a key reads back its value from: the fixtures' `pushProperty`
    /// for a key the suite wrote, none otherwise.
    pub(crate) fn read_property(&self, key: &str) -> String {
        match &self.fixtures.push_property {
            Some(property) if self.pushed.contains(key) => property.clone(),
            _ => String::new(),
        }
    }

    /// GetSecret of `key` (`version`, `property` may be empty): the bytes. A key
    /// the suite wrote is read from its [`read_property`](Self::read_property).
    pub(crate) async fn get(&mut self, key: &str, version: &str, property: &str) -> Result<Vec<u8>, Status> {
        let pushed_property;
        let property = if version.is_empty() && property.is_empty() {
            pushed_property = self.read_property(key);
            pushed_property.as_str()
        } else {
            property
        };
        let request = self.target.store_call().get(key, version, property);
        match self
            .call(&format!("GetSecret of {}", crate::display::bounded(key)), request)
            .await?
        {
            Reply::GetSecret(response) => Ok(response.value),
            _ => Err(Status::internal("conformance: GetSecret answered another message")),
        }
    }

    /// SecretExists of `key`.
    pub(crate) async fn exists(&mut self, key: &str) -> Result<bool, Status> {
        let request = self.target.store_call().exists(key, "");
        match self
            .call(&format!("SecretExists of {}", crate::display::bounded(key)), request)
            .await?
        {
            Reply::SecretExists(response) => Ok(response.exists),
            _ => Err(Status::internal("conformance: SecretExists answered another message")),
        }
    }

    /// DeleteSecret of `key`.
    pub(crate) async fn delete(&mut self, key: &str) -> Result<(), Status> {
        let request = self.target.store_call().delete(key, "");
        self.call(&format!("DeleteSecret of {}", crate::display::bounded(key)), request)
            .await
            .map(|_| ())
    }

    /// A key and the value it reads back as: a plain fixture, or, for a read-write
    /// store, a key the suite writes once. `None` when neither can be had.
    pub(crate) async fn readable(&mut self) -> TestResult<Option<(String, Vec<u8>)>> {
        if let Some(fixture) = self.fixtures.plain().next()
            && let Some(value) = &fixture.value
        {
            return Ok(Some((fixture.key.clone(), value.clone())));
        }
        if let Some(seeded) = &self.seeded {
            return Ok(Some(seeded.clone()));
        }
        if !self.can_read_write() {
            return Ok(None);
        }
        let key = self.key("seed");
        let value = self.value("seed");
        self.push(&key, &value)
            .await
            .map_err(|s| format!("seeding {key}: PushSecret failed: {}", describe_status(&s)))?;
        let got = self.get(&key, "", "").await.map_err(|s| {
            format!(
                "seeding {key}: GetSecret after PushSecret failed: {}",
                describe_status(&s)
            )
        })?;
        same_bytes(&format!("seeding {key}: GetSecret after PushSecret"), &got, &value)?;
        self.seeded = Some((key.clone(), value.clone()));
        Ok(Some((key, value)))
    }

    /// Every known (key, value) a read could return: plain fixtures and what the suite wrote.
    pub(crate) fn readable_pairs(&self) -> Vec<(String, Vec<u8>)> {
        let mut pairs: Vec<(String, Vec<u8>)> = self
            .fixtures
            .plain()
            .filter_map(|f| f.value.clone().map(|v| (f.key.clone(), v)))
            .collect();
        if let Some(seeded) = &self.seeded {
            pairs.push(seeded.clone());
        }
        pairs
    }

    /// The texts that would show a known value: each value as is (when UTF-8), its
    /// base64, and the first 32 bytes of a long one; values shorter than
    /// [`MIN_SECRET_BYTES`] and those that also occur in a key or name the suite
    /// used are left out.
    pub(crate) fn needles(&self) -> Vec<(String, String)> {
        let mut needles = Vec::new();
        for known in &self.known {
            if known.value.len() < MIN_SECRET_BYTES {
                continue;
            }
            let mut forms = Vec::new();
            if let Ok(text) = std::str::from_utf8(&known.value) {
                forms.push((text.to_string(), "as is"));
            }
            forms.push((base64::engine::general_purpose::STANDARD.encode(&known.value), "base64"));
            if known.value.len() > 64
                && let Ok(text) = std::str::from_utf8(&known.value[..32])
            {
                forms.push((text.to_string(), "its first 32 bytes"));
            }
            for (needle, form) in forms {
                if self.names.iter().any(|name| name.contains(&needle)) {
                    continue;
                }
                needles.push((needle, format!("{} ({form})", known.label)));
            }
        }
        needles
    }

    /// `text` with every known value (and its base64) replaced by `<redacted>`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for known in &self.known {
            if known.value.len() < MIN_SECRET_BYTES {
                continue;
            }
            if let Ok(value) = std::str::from_utf8(&known.value) {
                out = out.replace(value, "<redacted>");
            }
            let encoded = base64::engine::general_purpose::STANDARD.encode(&known.value);
            out = out.replace(&encoded, "<redacted>");
        }
        out
    }

    /// Deletes what the suite wrote (best effort, each call bounded).
    pub(crate) async fn clean_up(&mut self) {
        if !self.can_write() {
            return;
        }
        let keys: Vec<String> = std::mem::take(&mut self.pushed).into_iter().collect();
        for key in keys {
            let request = self.target.store_call().delete(&key, "");
            let _ = tokio::time::timeout(self.case_timeout, call(&mut self.client, request)).await;
        }
    }
}

/// `CODE: message`, the code as gRPC names it.
pub(crate) fn describe_status(status: &Status) -> String {
    format!("{}: {}", code_name(status.code()), status.message())
}

/// `got` must be `expected`, byte for byte; the failure shows lengths and the
/// first differing offset, never the bytes.
pub(crate) fn same_bytes(what: &str, got: &[u8], expected: &[u8]) -> TestResult {
    if got == expected {
        return Ok(());
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    check!(
        false,
        "{what}: the value differs: {} bytes, expected {}; first difference at byte {first}",
        got.len(),
        expected.len()
    );
    Ok(())
}

/// A seed that differs per run (time and process id): names and values, not secrets.
fn run_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mixed = nanos ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    // splitmix64's finaliser.
    let mut z = mixed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
