//! The `VaultToken` generator: Generate creates a token (an orphan through
//! auth/token/create-orphan by default, else a child through auth/token/create),
//! Cleanup revokes it by accessor (auth/token/revoke-accessor). With AppRole, the
//! login token each call makes is revoked when the call is done.

use crate::client::{VaultClient, api_path};
use crate::spec::VaultTokenSpec;
use eso_runtime::{Ctx, Error, Generated, Generator, Result, SecretMap, SecretValue};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// The key the generated token is returned under.
pub const TOKEN_KEY: &str = "token";

/// What Cleanup needs to revoke a generated token: its accessor, never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultTokenState {
    /// The token's accessor.
    pub accessor: String,
    /// When the token expires, in seconds since the Unix epoch; `None` if it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// When the token was generated, in seconds since the Unix epoch (what messages
    /// name it by; the accessor identifies the token and stays out of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<u64>,
}

/// Serves kind `VaultToken`.
pub struct VaultTokenGenerator;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Unix seconds as an RFC 3339 UTC time, e.g. `2026-11-25T09:10:51Z`.
fn utc(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (no negatives here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Creates the token the spec asks for: its secret and its state.
async fn create(client: &VaultClient, spec: &VaultTokenSpec) -> Result<Generated<VaultTokenState>> {
    let mut body = serde_json::json!({ "policies": spec.policies });
    if let Some(ttl) = &spec.ttl {
        body["ttl"] = Value::String(ttl.clone());
    }
    if let Some(name) = &spec.display_name {
        body["display_name"] = Value::String(name.clone());
    }
    if let Some(renewable) = spec.renewable {
        body["renewable"] = Value::Bool(renewable);
    }
    let path = if spec.orphan {
        "auth/token/create-orphan"
    } else {
        "auth/token/create"
    };
    let what = format!("creating a token at {path}");
    let created_at = now();
    let reply = client
        .request(Method::POST, &api_path(&[path]), &[], Some(&body), &what)
        .await?
        .ok_or_else(|| Error::invalid_config(format!("{}: {what}: no token auth method", client.object())))?;
    let auth = reply
        .get("auth")
        .ok_or_else(|| Error::internal(format!("{}: {what}: Vault's answer has no auth", client.object())))?;
    let token = auth.get("client_token").and_then(Value::as_str);
    let accessor = auth.get("accessor").and_then(Value::as_str);
    let (Some(token), Some(accessor)) = (token, accessor) else {
        return Err(Error::internal(format!(
            "{}: {what}: Vault's answer lacks the token or its accessor",
            client.object()
        )));
    };
    let lease = auth.get("lease_duration").and_then(Value::as_u64).unwrap_or(0);
    let mut secrets = SecretMap::new();
    secrets.insert(TOKEN_KEY.to_string(), SecretValue::from(token));
    Ok(Generated {
        secrets,
        state: Some(VaultTokenState {
            accessor: accessor.to_string(),
            expires_at: (lease > 0).then(|| created_at + lease),
            created_at: Some(created_at),
        }),
    })
}

impl Generator for VaultTokenGenerator {
    type Spec = VaultTokenSpec;
    type State = VaultTokenState;

    async fn generate(&self, ctx: &Ctx, spec: &VaultTokenSpec) -> Result<Generated<VaultTokenState>> {
        spec.check().map_err(|e| e.context(ctx.describe()))?;
        let client = VaultClient::connect(ctx, &spec.connection()).await?;
        let generated = create(&client, spec).await;
        // An AppRole login made for this call alone would linger until its TTL: revoke
        // it. Not when the generated token is its child (orphan: false), which would
        // go with it. Best effort: the generated token must reach the caller anyway (a
        // failure here leaves a login token that expires with its TTL).
        if spec.orphan || generated.is_err() {
            let _ = client.revoke_login().await;
        }
        generated
    }

    async fn cleanup(&self, ctx: &Ctx, spec: Option<&VaultTokenSpec>, state: VaultTokenState) -> Result<()> {
        let token = match state.created_at {
            Some(at) => format!("the token generated at {}", utc(at)),
            None => "the generated token".to_string(),
        };
        let Some(spec) = spec else {
            // Without the object there are no server or credentials to revoke with.
            // An expired token is gone by itself; otherwise say so, and ESO retries.
            if state.expires_at.is_some_and(|at| at <= now()) {
                return Ok(());
            }
            return Err(Error::invalid_config(format!(
                "{}: the VaultToken object is gone, so {token} cannot be revoked (no server or credentials); {}",
                ctx.describe(),
                match state.expires_at {
                    Some(at) => format!("it expires at {}", utc(at)),
                    None => "it does not expire: revoke it by hand".to_string(),
                }
            )));
        };
        let client = VaultClient::connect(ctx, &spec.connection()).await?;
        let body = serde_json::json!({ "accessor": state.accessor });
        let what = format!("revoking {token} (auth/token/revoke-accessor)");
        // Vault answers an unknown accessor with success (and a warning): already gone.
        let revoked = match client
            .request(
                Method::POST,
                &api_path(&["auth/token/revoke-accessor"]),
                &[],
                Some(&body),
                &what,
            )
            .await
        {
            Ok(_) => Ok(()),
            // Older servers answer an unknown accessor with 400 "invalid accessor".
            Err(error)
                if error.kind() == eso_runtime::ErrorKind::InvalidRequest
                    && error.message().contains("invalid accessor") =>
            {
                Ok(())
            }
            Err(error) => Err(error),
        };
        // The AppRole login made for this call has no children: revoke it (best effort).
        let _ = client.revoke_login().await;
        revoked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_597_851), "2026-11-25T09:10:51Z");
    }
}
