//! The `VaultToken` generator: Generate creates a child token (auth/token/create),
//! Cleanup revokes it by accessor (auth/token/revoke-accessor).

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
}

/// Serves kind `VaultToken`.
pub struct VaultTokenGenerator;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl Generator for VaultTokenGenerator {
    type Spec = VaultTokenSpec;
    type State = VaultTokenState;

    async fn generate(&self, ctx: &Ctx, spec: &VaultTokenSpec) -> Result<Generated<VaultTokenState>> {
        spec.check().map_err(|e| e.context(ctx.describe()))?;
        let client = VaultClient::connect(ctx, &spec.connection()).await?;
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
        let what = "creating a token at auth/token/create";
        let reply = client
            .request(Method::POST, &api_path(&["auth/token/create"]), &[], Some(&body), what)
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
                expires_at: (lease > 0).then(|| now() + lease),
            }),
        })
    }

    async fn cleanup(&self, ctx: &Ctx, spec: Option<&VaultTokenSpec>, state: VaultTokenState) -> Result<()> {
        let Some(spec) = spec else {
            // Without the object there are no server or credentials to revoke with.
            // An expired token is gone by itself; otherwise say so, and ESO retries.
            if state.expires_at.is_some_and(|at| at <= now()) {
                return Ok(());
            }
            return Err(Error::invalid_config(format!(
                "{}: the VaultToken object is gone, so token accessor {} cannot be revoked (no server or credentials); {}",
                ctx.describe(),
                state.accessor,
                match state.expires_at {
                    Some(at) => format!("it expires at {at} (Unix time)"),
                    None => "it does not expire: revoke it by hand".to_string(),
                }
            )));
        };
        let client = VaultClient::connect(ctx, &spec.connection()).await?;
        let body = serde_json::json!({ "accessor": state.accessor });
        let what = format!("revoking token accessor {}", state.accessor);
        // Vault answers an unknown accessor with success (and a warning): already gone.
        match client
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
        }
    }
}
