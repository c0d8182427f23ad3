//! [`SecretsManagerVault`]: the `Vault` port on AWS Secrets Manager, following its
//! rotation protocol (shared/integration-facts.md §3): a new value is staged as
//! `AWSPENDING` under the rotation's version id, then promoted to `AWSCURRENT` (the
//! old current becomes `AWSPREVIOUS`), and `AWSPENDING` is taken off again so that it
//! is either on the current version or on none (the end-state rule).
//!
//! Secret values only ever travel as [`SecretString`]; no error, log line or `Debug`
//! output of this module contains one.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use hogwarden_core::error::Result;
use hogwarden_core::ports::{Stage, Vault};
use secrecy::{ExposeSecret, SecretString};

use crate::error::StoreError;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";
const PREVIOUS: &str = "AWSPREVIOUS";

/// Secrets Manager's label for a stage.
pub fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::Current => CURRENT,
        Stage::Pending => PENDING,
        Stage::Previous => PREVIOUS,
    }
}

/// A [`Vault`] on Secrets Manager. Holds only a client, so `Debug` has nothing to leak.
#[derive(Debug, Clone)]
pub struct SecretsManagerVault {
    client: Client,
}

impl SecretsManagerVault {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Which stages each version of a secret carries; `None` if the secret does not exist.
    async fn versions(&self, name: &str) -> std::result::Result<Option<HashMap<String, Vec<String>>>, StoreError> {
        match self.client.describe_secret().secret_id(name).send().await {
            Ok(out) => Ok(Some(out.version_ids_to_stages.unwrap_or_default())),
            Err(err) if matches!(err.as_service_error(), Some(DescribeSecretError::ResourceNotFoundException(_))) => Ok(None),
            Err(err) => Err(StoreError::secrets("DescribeSecret", err)),
        }
    }

    /// Whether the version holds a value (a version RotateSecret announced may not yet).
    async fn has_value(&self, name: &str, version_id: &str) -> std::result::Result<bool, StoreError> {
        match self.client.get_secret_value().secret_id(name).version_id(version_id).send().await {
            Ok(out) => Ok(out.secret_string.is_some() || out.secret_binary.is_some()),
            Err(err) if matches!(err.as_service_error(), Some(GetSecretValueError::ResourceNotFoundException(_))) => Ok(false),
            Err(err) => Err(StoreError::secrets("GetSecretValue", err)),
        }
    }

    /// Moves `stage` to `to` (or removes it with `None`) from `from`.
    async fn move_stage(&self, name: &str, stage: &str, to: Option<&str>, from: Option<&str>) -> std::result::Result<(), StoreError> {
        self.client
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage(stage)
            .set_move_to_version_id(to.map(str::to_owned))
            .set_remove_from_version_id(from.map(str::to_owned))
            .send()
            .await
            .map_err(|e| StoreError::secrets("UpdateSecretVersionStage", e))?;
        Ok(())
    }
}

fn has(versions: &HashMap<String, Vec<String>>, version_id: &str, stage: &str) -> bool {
    versions.get(version_id).is_some_and(|stages| stages.iter().any(|s| s == stage))
}

#[async_trait]
impl Vault for SecretsManagerVault {
    #[tracing::instrument(skip_all, fields(name = %name, stage = stage_label(stage)))]
    async fn get(&self, name: &str, stage: Stage) -> Result<Option<SecretString>> {
        match self.client.get_secret_value().secret_id(name).version_stage(stage_label(stage)).send().await {
            Ok(out) => Ok(out.secret_string.map(SecretString::from)),
            // Both a missing secret and a stage on no version come back as "not found".
            Err(err) if matches!(err.as_service_error(), Some(GetSecretValueError::ResourceNotFoundException(_))) => Ok(None),
            Err(err) => Err(StoreError::secrets("GetSecretValue", err).into()),
        }
    }

    #[tracing::instrument(skip_all, fields(name = %name, version_id = %version_id))]
    async fn stage_pending(&self, name: &str, version_id: &str, value: SecretString) -> Result<()> {
        match self.versions(name).await? {
            // Retried createSecret step: the version holds a value, so it is not replaced.
            // (RotateSecret itself lists the token's version before createSecret has put
            // a value in it; that version still gets its value below.)
            Some(versions) if versions.contains_key(version_id) && self.has_value(name, version_id).await? => return Ok(()),
            Some(_) => {}
            None => {
                // Created without a value so that every value goes through the same
                // PutSecretValue. Secrets Manager makes a secret's first version
                // AWSCURRENT as well as AWSPENDING (there is nothing older to keep
                // serving); `promote` then only takes AWSPENDING off it.
                self.client.create_secret().name(name).send().await.map_err(|e| StoreError::secrets("CreateSecret", e))?;
            }
        }
        self.client
            .put_secret_value()
            .secret_id(name)
            .client_request_token(version_id)
            .secret_string(value.expose_secret())
            .version_stages(PENDING)
            .send()
            .await
            .map_err(|e| StoreError::secrets("PutSecretValue", e))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(name = %name, version_id = %version_id))]
    async fn promote(&self, name: &str, version_id: &str) -> Result<()> {
        let versions = self.versions(name).await?.ok_or_else(|| hogwarden_core::Error::NotFound(format!("secret {name}")))?;
        if !versions.contains_key(version_id) {
            return Err(hogwarden_core::Error::NotFound(format!("version {version_id} of secret {name}")));
        }
        if !has(&versions, version_id, CURRENT) {
            let old_current = versions.iter().find(|(_, stages)| stages.iter().any(|s| s == CURRENT)).map(|(id, _)| id.as_str());
            self.move_stage(name, CURRENT, Some(version_id), old_current).await?;
        }
        // End-state rule: AWSPENDING may not stay on a version other than the current
        // one. Removing it here also finishes a promote that stopped half-way.
        if has(&versions, version_id, PENDING) {
            self.move_stage(name, PENDING, None, Some(version_id)).await?;
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(name = %name, version_id = %version_id))]
    async fn version(&self, name: &str, version_id: &str) -> Result<Option<(SecretString, Vec<Stage>)>> {
        let Some(versions) = self.versions(name).await? else { return Ok(None) };
        let Some(labels) = versions.get(version_id) else { return Ok(None) };
        let stages = labels
            .iter()
            .filter_map(|l| match l.as_str() {
                CURRENT => Some(Stage::Current),
                PENDING => Some(Stage::Pending),
                PREVIOUS => Some(Stage::Previous),
                _ => None,
            })
            .collect();
        match self.client.get_secret_value().secret_id(name).version_id(version_id).send().await {
            Ok(out) => Ok(out.secret_string.map(|v| (SecretString::from(v), stages))),
            Err(err) if matches!(err.as_service_error(), Some(GetSecretValueError::ResourceNotFoundException(_))) => Ok(None),
            Err(err) => Err(StoreError::secrets("GetSecretValue", err).into()),
        }
    }
}
