//! [`RefreshingClient`]: the PostHog ports on a client whose key follows the vault.
//!
//! A Lambda container reads Hogwarden's key once at cold start; after an admin stores a
//! new key (or a rotation), a warm container would keep sending the old one. When PostHog
//! answers 401, this re-reads the secret's AWSCURRENT; if it holds another key, the client
//! is rebuilt with it and the call is made once more. A 401 with the same key stays a 401
//! (the key really is rejected). Keys are compared by fingerprint; no value is logged.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use hogwarden_core::keys::{IssuedKey, ProjectKeys, ProjectToken, SecretKeyInfo};
use hogwarden_core::ports::{EffectiveAccess, Invitation, KeyCheck, Member, PostHog, PostHogError, Project, Stage, Vault};
use hogwarden_core::types::{Email, OrgLevel, ProjectId, ProjectRole};
use secrecy::SecretString;

use crate::client::PostHogClient;
use crate::config::PostHogConfig;
use crate::error::ClientError;
use crate::limiter::fingerprint;

/// A [`PostHogClient`] that picks up a new key from the vault after a 401.
pub struct RefreshingClient {
    current: RwLock<Arc<PostHogClient>>,
    template: PostHogConfig,
    vault: Arc<dyn Vault>,
    secret: String,
}

impl std::fmt::Debug for RefreshingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshingClient").field("secret", &self.secret).field("client", &*self.client()).finish()
    }
}

impl RefreshingClient {
    /// A client with `config`'s key, re-reading `secret` from `vault` on a 401.
    pub fn new(config: PostHogConfig, vault: Arc<dyn Vault>, secret: impl Into<String>) -> Result<Self, ClientError> {
        let client = Arc::new(PostHogClient::new(config.clone())?);
        Ok(Self { current: RwLock::new(client), template: config, vault, secret: secret.into() })
    }

    /// The client in use now.
    pub fn client(&self) -> Arc<PostHogClient> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Re-reads the secret; `true` when it held another key and the client now uses it.
    pub async fn reload(&self) -> bool {
        let stored: Option<SecretString> = match self.vault.get(&self.secret, Stage::Current).await {
            Ok(value) => value,
            Err(e) => {
                tracing::warn!(error = %e, secret = %self.secret, "could not re-read Hogwarden's key after a 401");
                return false;
            }
        };
        let Some(stored) = stored else { return false };
        let in_use = self.client();
        if fingerprint(&stored) == fingerprint(&in_use.config().api_key) {
            return false;
        }
        let mut config = self.template.clone();
        config.api_key = stored;
        match PostHogClient::new(config) {
            Ok(fresh) => {
                tracing::info!(key = %fresh.key_fingerprint_prefix(), "PostHog rejected the key in use; the vault holds a newer one, which is used from now on");
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the key in the vault cannot be used");
                false
            }
        }
    }

    /// Runs `call`; after a 401, once more with the vault's key if it changed.
    async fn run<T, F, Fut>(&self, call: F) -> Result<T, PostHogError>
    where
        F: Fn(Arc<PostHogClient>) -> Fut,
        Fut: Future<Output = Result<T, PostHogError>>,
    {
        match call(self.client()).await {
            Err(PostHogError::Unauthorized) if self.reload().await => call(self.client()).await,
            other => other,
        }
    }
}

#[async_trait]
impl PostHog for RefreshingClient {
    async fn find_member(&self, email: &Email) -> Result<Option<Member>, PostHogError> {
        self.run(|c| async move { PostHog::find_member(&*c, email).await }).await
    }

    async fn list_members(&self) -> Result<Vec<Member>, PostHogError> {
        self.run(|c| async move { PostHog::list_members(&*c).await }).await
    }

    async fn list_projects(&self) -> Result<Vec<Project>, PostHogError> {
        self.run(|c| async move { PostHog::list_projects(&*c).await }).await
    }

    async fn set_org_level(&self, member: &Member, level: OrgLevel) -> Result<OrgLevel, PostHogError> {
        self.run(|c| async move { c.set_org_level(member, level).await }).await
    }

    async fn project_role(&self, member: &Member, project: ProjectId) -> Result<Option<ProjectRole>, PostHogError> {
        self.run(|c| async move { c.project_role(member, project).await }).await
    }

    async fn project_roles(&self, project: ProjectId) -> Result<Vec<(String, ProjectRole)>, PostHogError> {
        self.run(|c| async move { c.project_roles(project).await }).await
    }

    async fn project_open_to_org(&self, project: ProjectId) -> Result<bool, PostHogError> {
        self.run(|c| async move { c.project_open_to_org(project).await }).await
    }

    async fn effective_access(&self, member: &Member, project: ProjectId) -> Result<Option<EffectiveAccess>, PostHogError> {
        self.run(|c| async move { c.effective_access(member, project).await }).await
    }

    async fn invitations_for(&self, email: &Email) -> Result<Vec<Invitation>, PostHogError> {
        self.run(|c| async move { c.invitations_for(email).await }).await
    }

    async fn check_key(&self) -> Result<KeyCheck, PostHogError> {
        let check = PostHog::check_key(&*self.client()).await?;
        if !check.accepted && self.reload().await {
            return PostHog::check_key(&*self.client()).await;
        }
        Ok(check)
    }

    async fn set_project_role(
        &self,
        member: &Member,
        project: ProjectId,
        role: Option<ProjectRole>,
    ) -> Result<Option<ProjectRole>, PostHogError> {
        self.run(|c| async move { c.set_project_role(member, project, role).await }).await
    }

    async fn project_rules(&self, project: ProjectId) -> Result<hogwarden_core::ports::ProjectRules, PostHogError> {
        self.run(|c| async move { c.project_rules(project).await }).await
    }

    async fn write_project_role(
        &self,
        member: &Member,
        project: ProjectId,
        role: Option<ProjectRole>,
        known: &hogwarden_core::ports::MemberRules,
    ) -> Result<hogwarden_core::ports::MemberRules, PostHogError> {
        self.run(|c| async move { c.write_project_role(member, project, role, known).await }).await
    }

    async fn access_activity(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<hogwarden_core::reviews::ActivityRecord>, PostHogError> {
        self.run(|c| async move { c.access_activity(since).await }).await
    }
    async fn objects_created_by(
        &self,
        member: &Member,
        project: ProjectId,
    ) -> Result<Vec<hogwarden_core::ports::OwnedObject>, PostHogError> {
        self.run(|c| async move { PostHog::objects_created_by(&*c, member, project).await }).await
    }

    async fn object_access(&self, object: &hogwarden_core::ports::OwnedObject, member: &Member) -> Result<Option<String>, PostHogError> {
        self.run(|c| async move { PostHog::object_access(&*c, object, member).await }).await
    }

    async fn set_object_access(
        &self,
        object: &hogwarden_core::ports::OwnedObject,
        member: &Member,
        level: &str,
    ) -> Result<Option<String>, PostHogError> {
        self.run(|c| async move { PostHog::set_object_access(&*c, object, member, level).await }).await
    }

    async fn remove_member(&self, member: &Member) -> Result<bool, PostHogError> {
        self.run(|c| async move { PostHog::remove_member(&*c, member).await }).await
    }
}

#[async_trait]
impl ProjectKeys for RefreshingClient {
    async fn list_secret_keys(&self, project: ProjectId) -> Result<Vec<SecretKeyInfo>, PostHogError> {
        self.run(|c| async move { c.list_secret_keys(project).await }).await
    }

    async fn project_tokens(&self) -> Result<Vec<ProjectToken>, PostHogError> {
        self.run(|c| async move { c.project_tokens().await }).await
    }

    async fn create_secret_key(&self, project: ProjectId, label: &str, scopes: &[String]) -> Result<IssuedKey, PostHogError> {
        self.run(|c| async move { c.create_secret_key(project, label, scopes).await }).await
    }

    async fn roll_secret_key(&self, project: ProjectId, id: &str) -> Result<IssuedKey, PostHogError> {
        self.run(|c| async move { c.roll_secret_key(project, id).await }).await
    }

    async fn delete_secret_key(&self, project: ProjectId, id: &str) -> Result<bool, PostHogError> {
        self.run(|c| async move { c.delete_secret_key(project, id).await }).await
    }

    async fn secret_key_works(&self, value: &SecretString) -> Result<bool, PostHogError> {
        self.client().secret_key_works(value).await
    }
}

#[async_trait]
impl hogwarden_core::webhooks::LeakReporter for RefreshingClient {
    async fn report_leaked_key(&self, value: &SecretString) -> Result<Option<String>, PostHogError> {
        self.client().report_leaked_key(value).await
    }
}

/// `GET /api/personal_api_keys/@current/`: the one personal-key read a key may make.
#[derive(serde::Deserialize)]
struct CurrentKey {
    #[serde(default)]
    scopes: Vec<String>,
}

#[async_trait]
impl hogwarden_core::usecases::ServiceKeyCheck for RefreshingClient {
    async fn inspect(&self, key: &SecretString) -> Result<hogwarden_core::usecases::CandidateKey, PostHogError> {
        let mut config = self.template.clone();
        config.api_key = key.clone();
        let candidate = PostHogClient::new(config)?;
        // A 403 (a scope missing) still means PostHog knows the key: its scopes say which.
        let accepted = match candidate.check_key().await {
            Ok(accepted) => accepted,
            Err(ClientError::Api(e)) if e.status == 403 => true,
            Err(e) => return Err(e.into()),
        };
        if !accepted {
            return Ok(hogwarden_core::usecases::CandidateKey { accepted, scopes: Vec::new() });
        }
        let current: CurrentKey = candidate.get_json(&["api", "personal_api_keys", "@current"]).await?;
        Ok(hogwarden_core::usecases::CandidateKey { accepted, scopes: current.scopes })
    }

    async fn key_stored(&self) {
        self.reload().await;
    }
}

/// keys-alerts: `GET /api/personal_api_keys/@current/` as PostHog answers it (the one
/// personal-key read a key may make), for the inventory.
#[derive(serde::Deserialize)]
struct CurrentKeyMeta {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    mask_value: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    last_rolled_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[async_trait]
impl hogwarden_core::usecases::OwnKeyInfo for RefreshingClient {
    async fn own_key(&self) -> Result<hogwarden_core::usecases::OwnKey, PostHogError> {
        self.run(|c| async move {
            let meta: CurrentKeyMeta = c.get_json(&["api", "personal_api_keys", "@current"]).await?;
            Ok(hogwarden_core::usecases::OwnKey {
                label: meta.label,
                mask: meta.mask_value,
                scopes: meta.scopes,
                created_at: meta.created_at,
                last_used_at: meta.last_used_at,
                last_rolled_at: meta.last_rolled_at,
            })
        })
        .await
    }
}
