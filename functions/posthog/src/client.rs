//! The HTTP side: one typed method per PostHog endpoint Hogwarden uses, and the loop
//! every request goes through (shared budget, retries, throttling, error bodies).
//!
//! Every method here is idempotent, setting a level included, so every one is
//! retried on 5xx, timeouts and broken connections. 4xx answers are final, except
//! 429, which is waited out (and pauses every caller of the key).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use hogwarden_core::ports::{Stage, Vault};
use hogwarden_core::types::{OrgLevel, ProjectId};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

mod objects;

use crate::config::PostHogConfig;
use crate::error::{ApiError, ApiErrorKind, ClientError};
use crate::limiter::{self, Budget};
use crate::wire::{
    AccessControl, AccessControlPut, AccessControls, ErrorBody, MemberLevelPatch, OrganizationInvite, OrganizationMember, Page, Project,
    ProjectAccessLevel, ResourceAccessControlPut, ResourceAccessLevel, UsersWithAccess,
};

/// `hogwarden/<version>`, so PostHog's logs can tell Hogwarden's calls apart.
const USER_AGENT: &str = concat!("hogwarden/", env!("CARGO_PKG_VERSION"));

/// A list longer than this many pages is taken as a server that never says "last
/// page" (100 000 members at 100 a page), not as a real organization.
const MAX_PAGES: u32 = 1000;

/// A PostHog REST client for one organization. Cloning is cheap (an `Arc`), and every
/// clone, like every other client built with the same key, shares one rate budget.
///
/// A client built with [`Self::following_vault`] follows the key stored in the vault:
/// when PostHog answers 401, the one send path (`execute`) re-reads the secret's current version
/// and, if it holds another key, switches to it (for this client and every clone) and
/// sends the same call once more. A 401 with the same key stays a 401. A Lambda
/// container reads the key once at cold start; this is how a warm one picks up a key
/// an admin (or a rotation) stored since.
#[derive(Clone)]
pub struct PostHogClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Everything but the key, which never changes. Its `api_key` is left empty: the
    /// key in use is [`Keyed::api_key`], read through [`PostHogClient::keyed`].
    pub(crate) config: PostHogConfig,
    /// What depends on the key, swapped whole when the vault holds a newer one. The
    /// lock is only held to clone or replace the `Arc`, never across an await.
    keyed: RwLock<Arc<Keyed>>,
    /// Where a newer key is read after a 401; `None`: the key is fixed.
    source: Option<KeySource>,
    /// Told when a 401 stays after that (writes pause); `None`: nobody is told.
    rejections: Option<Arc<dyn hogwarden_core::ports::KeyRejections>>,
}

/// The key in use and what is built from it.
pub(crate) struct Keyed {
    /// Sends the key as its default `Authorization` header.
    pub(crate) http: reqwest::Client,
    api_key: SecretString,
    fingerprint: String,
    budget: Arc<Budget>,
}

/// The vault secret that holds Hogwarden's key.
struct KeySource {
    vault: Arc<dyn Vault>,
    secret: String,
}

impl std::fmt::Debug for PostHogClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostHogClient")
            .field("base_url", &self.inner.config.base_url.as_str())
            .field("organization_id", &self.inner.config.organization_id)
            .field("key_fingerprint", &self.key_fingerprint_prefix())
            .field("key_secret", &self.inner.source.as_ref().map(|s| s.secret.as_str()))
            .finish_non_exhaustive()
    }
}

impl Keyed {
    /// The HTTP client and rate budget for `api_key`, with `settings`' timeouts and limits.
    fn build(settings: &PostHogConfig, api_key: SecretString) -> Result<Self, ClientError> {
        if api_key.expose_secret().trim().is_empty() {
            return Err(ClientError::Config("the API key is empty".into()));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", api_key.expose_secret()))
            .map_err(|_| ClientError::Config("the API key contains characters that cannot be sent in a header".into()))?;
        // Sensitive values are left out of hyper's and reqwest's debug output.
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .timeout(settings.request_timeout)
            // Never follow a redirect: PostHog's API does not redirect, and following one
            // could carry the key (or the write) somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(settings.base_url.scheme() == "https")
            .build()
            .map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {}", e.without_url())))?;
        let fingerprint = limiter::fingerprint(&api_key);
        let budget = limiter::budget_for(&fingerprint, settings.burst, settings.sustained);
        Ok(Self { http, api_key, fingerprint, budget })
    }

    /// The first 12 hex digits of the key's SHA-256, for logs.
    fn prefix(&self) -> &str {
        &self.fingerprint[..12]
    }
}

/// A request ready to go out, kept whole so it can be sent again.
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<Vec<u8>>,
    /// A DELETE that answers 404 after an attempt that may have reached PostHog has
    /// done its job: the earlier attempt deleted it.
    pub(crate) gone_is_done: bool,
}

/// A successful answer.
pub(crate) enum Reply {
    Body(Vec<u8>),
    NoContent,
}

/// What one attempt came to, before deciding whether to try again.
enum Attempt {
    Done(Reply),
    Final(ClientError),
    /// 429: wait this long (if PostHog said), then try again.
    Throttled(Option<Duration>, ApiError),
    /// 5xx, timeout or broken connection: back off (or wait this long), then retry.
    /// `reached` is false only when the connection was never made, so PostHog cannot
    /// have acted on the request.
    Transient {
        wait: Option<Duration>,
        error: ClientError,
        timed_out: bool,
        reached: bool,
    },
}

impl PostHogClient {
    /// Checks the configuration and builds the HTTP client. Fails on a base URL that
    /// cannot work, on a plain-`http` remote host (unless allowed), on a key that
    /// cannot go in a header, and on zero limits.
    pub fn new(config: PostHogConfig) -> Result<Self, ClientError> {
        validate(&config)?;
        let mut settings = config;
        let api_key = std::mem::replace(&mut settings.api_key, SecretString::from(String::new()));
        let keyed = Keyed::build(&settings, api_key)?;
        Ok(Self { inner: Arc::new(Inner { config: settings, keyed: RwLock::new(Arc::new(keyed)), source: None, rejections: None }) })
    }

    /// This client, following `secret` in `vault`: after a 401 it re-reads the secret's
    /// current version and, when that holds another key, uses it from then on (every
    /// clone made from the returned client too) and sends the refused call once more.
    pub fn following_vault(self, vault: Arc<dyn Vault>, secret: impl Into<String>) -> Self {
        let inner = Inner {
            config: self.inner.config.clone(),
            keyed: RwLock::new(self.keyed()),
            source: Some(KeySource { vault, secret: secret.into() }),
            rejections: self.inner.rejections.clone(),
        };
        Self { inner: Arc::new(inner) }
    }

    /// The same client, telling `rejections` when PostHog keeps rejecting its key (a
    /// 401 the vault's key does not fix); the call then fails as paused when writes
    /// are paused. Call it before cloning.
    pub fn telling(self, rejections: Arc<dyn hogwarden_core::ports::KeyRejections>) -> Self {
        let inner = Inner {
            config: self.inner.config.clone(),
            keyed: RwLock::new(self.keyed()),
            source: self.inner.source.as_ref().map(|s| KeySource { vault: s.vault.clone(), secret: s.secret.clone() }),
            rejections: Some(rejections),
        };
        Self { inner: Arc::new(inner) }
    }

    /// The configuration, with the key in use now.
    pub fn config(&self) -> PostHogConfig {
        PostHogConfig { api_key: self.keyed().api_key.clone(), ..self.inner.config.clone() }
    }

    /// The first 12 hex digits of the key's SHA-256: enough to tell keys apart in logs.
    pub fn key_fingerprint_prefix(&self) -> String {
        self.keyed().prefix().to_owned()
    }

    /// The key in use now and what is built from it.
    pub(crate) fn keyed(&self) -> Arc<Keyed> {
        self.inner.keyed.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Re-reads the vault: `true` when it held another key, which is now in use.
    pub(crate) async fn reload_key(&self) -> bool {
        let in_use = self.keyed();
        self.newer_key(&in_use).await.is_some()
    }

    /// After PostHog refused `refused` (401): the key state to send the call again with,
    /// if there is a newer key: one another call already switched to, or the vault's
    /// current version when it differs. `None`: no key source, or the same key.
    async fn newer_key(&self, refused: &Arc<Keyed>) -> Option<Arc<Keyed>> {
        let source = self.inner.source.as_ref()?;
        let current = self.keyed();
        if current.fingerprint != refused.fingerprint {
            return Some(current);
        }
        let stored = match source.vault.get(&source.secret, Stage::Current).await {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                tracing::warn!(secret = %source.secret, "PostHog rejected the key in use and the vault holds no key");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, secret = %source.secret, "could not re-read Hogwarden's key after a 401");
                return None;
            }
        };
        if limiter::fingerprint(&stored) == refused.fingerprint {
            return None;
        }
        let fresh = match Keyed::build(&self.inner.config, stored) {
            Ok(fresh) => Arc::new(fresh),
            Err(e) => {
                tracing::warn!(error = %e, secret = %source.secret, "the key in the vault cannot be used");
                return None;
            }
        };
        let mut slot = self.inner.keyed.write().unwrap_or_else(PoisonError::into_inner);
        if slot.fingerprint != refused.fingerprint {
            // Another call switched while the vault was read: keep its key.
            return Some(slot.clone());
        }
        *slot = fresh.clone();
        drop(slot);
        tracing::info!(
            key = %fresh.prefix(),
            rejected = %refused.prefix(),
            "PostHog rejected the key in use; the vault holds a newer one, which is used from now on"
        );
        Some(fresh)
    }

    // ------------------------------------------------------------ members

    /// Every member of the organization, all pages.
    #[tracing::instrument(skip_all, fields(org = %self.inner.config.organization_id))]
    pub async fn list_members(&self) -> Result<Vec<OrganizationMember>, ClientError> {
        self.list_all(&self.org_path(&["members"]), &[]).await
    }

    /// The member with this email (compared without regard to case), if any. Uses
    /// PostHog's `?email=` filter, and checks the answer itself in case a PostHog
    /// version ignores the filter. That filter is an exact, case-sensitive match while
    /// Hogwarden keeps emails in lower case, so when it finds nobody the case-insensitive
    /// `?search=` is asked too (one more request, only for a miss): a PostHog user signed
    /// up as `Ada.L@Example.com` is still found.
    #[tracing::instrument(skip_all, fields(org = %self.inner.config.organization_id))]
    pub async fn find_member_by_email(&self, email: &str) -> Result<Option<OrganizationMember>, ClientError> {
        let same = |m: &OrganizationMember| m.user.email.trim().eq_ignore_ascii_case(email.trim());
        let path = self.org_path(&["members"]);
        let members: Vec<OrganizationMember> = self.list_all(&path, &[("email", email)]).await?;
        if let Some(found) = members.into_iter().find(same) {
            return Ok(Some(found));
        }
        let searched: Vec<OrganizationMember> = self.list_all(&path, &[("search", email)]).await?;
        Ok(searched.into_iter().find(same))
    }

    /// Sets a member's organization level. The path key is the USER's uuid, not the
    /// membership id. Returns the member as PostHog answers.
    #[tracing::instrument(skip_all, fields(org = %self.inner.config.organization_id, user = %user_uuid, level = level.as_str()))]
    pub async fn patch_member_level(&self, user_uuid: &str, level: OrgLevel) -> Result<OrganizationMember, ClientError> {
        let url = self.url(&self.org_path(&["members", user_uuid]), &[])?;
        let body = MemberLevelPatch { level: level.to_posthog() };
        let reply = self.execute(Call::json(Method::PATCH, url, &body)?).await?;
        decode(reply)
    }

    /// Removes a member from the organization (204). A retry that finds the member
    /// already gone counts as done.
    #[tracing::instrument(skip_all, fields(org = %self.inner.config.organization_id, user = %user_uuid))]
    pub async fn remove_member(&self, user_uuid: &str) -> Result<(), ClientError> {
        let url = self.url(&self.org_path(&["members", user_uuid]), &[])?;
        let call = Call { method: Method::DELETE, url, body: None, gone_is_done: true };
        self.execute(call).await.map(drop)
    }

    // ------------------------------------------------------------ invites

    /// The invitations for this email (compared without regard to case), newest first.
    /// PostHog's invite list has no email filter, so every page is read.
    #[tracing::instrument(skip_all, fields(org = %self.inner.config.organization_id))]
    pub async fn invites_for_email(&self, email: &str) -> Result<Vec<OrganizationInvite>, ClientError> {
        let invites: Vec<OrganizationInvite> = self.list_all(&self.org_path(&["invites"]), &[]).await?;
        let wanted = email.trim();
        let mut mine: Vec<OrganizationInvite> =
            invites.into_iter().filter(|i| i.target_email.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case(wanted))).collect();
        mine.sort_by_key(|i| std::cmp::Reverse(i.created_at));
        Ok(mine)
    }

    // ------------------------------------------------------------ projects

    /// Every project of the organization, all pages.
    #[tracing::instrument(skip_all, fields(org = %self.inner.config.organization_id))]
    pub async fn list_projects(&self) -> Result<Vec<Project>, ClientError> {
        self.list_all(&self.org_path(&["projects"]), &[]).await
    }

    /// Whether PostHog accepts the key: one read of the smallest page of projects.
    /// `Ok(false)` is PostHog's 401; anything else that fails is an error.
    #[tracing::instrument(skip_all, fields(key = %self.key_fingerprint_prefix()))]
    pub async fn check_key(&self) -> Result<bool, ClientError> {
        let url = self.url(&self.org_path(&["projects"]), &[("limit", "1")])?;
        match self.execute(Call::get(url)).await {
            Ok(_) => Ok(true),
            Err(ClientError::Unauthorized(_) | ClientError::Paused(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Who can see the project, as PostHog resolves it (`GET /api/projects/{id}/users_with_access/`).
    #[tracing::instrument(skip_all, fields(project = %project))]
    pub async fn users_with_access(&self, project: ProjectId) -> Result<UsersWithAccess, ClientError> {
        let url = self.project_url(project, "users_with_access")?;
        decode(self.execute(Call::get(url)).await?)
    }

    /// Project-level rules (`GET /api/projects/{id}/access_controls/`).
    #[tracing::instrument(skip_all, fields(project = %project))]
    pub async fn get_access_controls(&self, project: ProjectId) -> Result<AccessControls, ClientError> {
        let url = self.project_url(project, "access_controls")?;
        decode(self.execute(Call::get(url)).await?)
    }

    /// Creates, changes (`Some`) or deletes (`None`) a member's project-level rule.
    /// `membership_id` is the member's `id` from `/members/`, not the user uuid.
    /// Returns the rule, or `None` when PostHog answered 204 (deleted, or nothing to
    /// delete).
    #[tracing::instrument(skip_all, fields(project = %project, membership = %membership_id, level = level.map_or("null", ProjectAccessLevel::as_str)))]
    pub async fn put_access_control(
        &self,
        project: ProjectId,
        membership_id: &str,
        level: Option<ProjectAccessLevel>,
    ) -> Result<Option<AccessControl>, ClientError> {
        let url = self.project_url(project, "access_controls")?;
        let body = AccessControlPut { organization_member: membership_id, access_level: level };
        decode_optional(self.execute(Call::json(Method::PUT, url, &body)?).await?)
    }

    /// Resource-type rules of a project (`GET /api/projects/{id}/resource_access_controls/`):
    /// for every member, role and the default, per resource type (dashboards, …).
    #[tracing::instrument(skip_all, fields(project = %project))]
    pub async fn get_resource_access_controls(&self, project: ProjectId) -> Result<AccessControls, ClientError> {
        let url = self.project_url(project, "resource_access_controls")?;
        decode(self.execute(Call::get(url)).await?)
    }

    /// Creates, changes (`Some`) or deletes (`None`) a member's rule for every object
    /// of one resource type (e.g. `dashboard`) in a project.
    #[tracing::instrument(skip_all, fields(project = %project, membership = %membership_id, resource = %resource, level = level.map_or("null", ResourceAccessLevel::as_str)))]
    pub async fn put_resource_access_control(
        &self,
        project: ProjectId,
        membership_id: &str,
        resource: &str,
        level: Option<ResourceAccessLevel>,
    ) -> Result<Option<AccessControl>, ClientError> {
        let url = self.project_url(project, "resource_access_controls")?;
        let body = ResourceAccessControlPut { resource, organization_member: membership_id, access_level: level };
        decode_optional(self.execute(Call::json(Method::PUT, url, &body)?).await?)
    }

    // ------------------------------------------------------------ plumbing

    pub(crate) fn org_path<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut path = vec!["api", "organizations", self.inner.config.organization_id.as_str()];
        path.extend_from_slice(rest);
        path
    }

    /// `/api/projects/{id}/<action>/`: `{id}` is the project's own id, not a parent.
    pub(crate) fn project_url(&self, project: ProjectId, action: &str) -> Result<Url, ClientError> {
        self.url(&["api", "projects", &project.get().to_string(), action], &[])
    }

    /// `base_url` + segments (each percent-encoded, so an id cannot change the path)
    /// + a trailing slash, as Django's routes expect.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, ClientError> {
        let mut url = self.inner.config.base_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .map_err(|()| ClientError::Config("the base URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(segments)
            .push("");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Reads every page of a limit/offset list. The next request is built here from
    /// the offset; PostHog's `next` link only says whether there is more. It is never
    /// requested, so a `next` pointing at another host (a misconfigured proxy, or
    /// worse) cannot receive the key.
    pub(crate) async fn list_all<T: DeserializeOwned>(&self, path: &[&str], filters: &[(&str, &str)]) -> Result<Vec<T>, ClientError> {
        let limit = self.inner.config.page_size.to_string();
        let mut items = Vec::new();
        let mut offset: u64 = 0;
        for _ in 0..MAX_PAGES {
            let offset_text = offset.to_string();
            let mut query = filters.to_vec();
            query.push(("limit", &limit));
            query.push(("offset", &offset_text));
            let page: Page<T> = decode(self.execute(Call::get(self.url(path, &query)?)).await?)?;
            let received = page.results.len() as u64;
            items.extend(page.results);
            let Some(next) = page.next else {
                return Ok(items);
            };
            self.note_foreign_next(&next);
            if received == 0 {
                return Err(ClientError::Decode(format!("PostHog announced another page after offset {offset} but sent an empty one")));
            }
            // Advance by what arrived, not by `limit`: a server that caps the page size
            // below what was asked must not make us skip items.
            offset += received;
        }
        Err(ClientError::Decode(format!("PostHog kept announcing more pages after {MAX_PAGES}")))
    }

    fn note_foreign_next(&self, next: &str) {
        let base = self.inner.config.base_url.origin();
        match Url::parse(next) {
            Ok(url) if url.origin() == base => {}
            Ok(url) => tracing::warn!(
                next_host = url.host_str().unwrap_or(""),
                "PostHog's next-page link points at another origin; it is ignored (pages are requested from the configured base URL). Check SITE_URL and proxy headers of a self-hosted PostHog."
            ),
            Err(_) => tracing::warn!("PostHog's next-page link is not a URL; it is ignored"),
        }
    }

    /// Sends a call until it succeeds, fails for good, or runs out of patience. This is
    /// the one send path: a 401 is followed by one more try with a newer key when the
    /// client follows the vault (PostHog applied nothing it answered 401 to, so a write
    /// is safe to send again).
    pub(crate) async fn execute(&self, call: Call) -> Result<Reply, ClientError> {
        let keyed = self.keyed();
        // Whether an earlier attempt may have reached PostHog and taken effect.
        let mut maybe_applied = false;
        let sent = match self.send(&keyed, &call, &mut maybe_applied).await {
            Err(ClientError::Unauthorized(error)) => match self.newer_key(&keyed).await {
                Some(fresh) => self.send(&fresh, &call, &mut maybe_applied).await,
                None => Err(ClientError::Unauthorized(error)),
            },
            other => other,
        };
        match (sent, &self.inner.rejections) {
            (Err(ClientError::Unauthorized(error)), Some(rejections)) => match rejections.key_rejected(&self.keyed().fingerprint).await {
                Some(paused) => Err(ClientError::Paused(paused)),
                None => Err(ClientError::Unauthorized(error)),
            },
            (other, _) => other,
        }
    }

    /// [`Self::execute`] with one key: retries, throttling and the shared budget.
    async fn send(&self, keyed: &Keyed, call: &Call, maybe_applied: &mut bool) -> Result<Reply, ClientError> {
        let config = &self.inner.config;
        let mut backoff = ExponentialBuilder::new()
            .with_min_delay(config.backoff.min_delay)
            .with_max_delay(config.backoff.max_delay)
            .with_jitter()
            .without_max_times()
            .build();
        let mut retries: u32 = 0;
        let mut throttle_waits: u32 = 0;
        let mut timeouts: u32 = 0;
        loop {
            keyed
                .budget
                .acquire(config.max_throttle_wait)
                .await
                .map_err(|too_long| ClientError::Throttled { retry_after: Some(too_long.wait) })?;
            let attempt = self.attempt(keyed, call).await;
            match attempt {
                Attempt::Done(reply) => return Ok(reply),
                Attempt::Final(ClientError::Api(e)) if e.status == 404 && call.gone_is_done && *maybe_applied => {
                    tracing::info!("the resource was already gone after an earlier attempt; treating the delete as done");
                    return Ok(Reply::NoContent);
                }
                Attempt::Final(error) => return Err(error),
                Attempt::Throttled(retry_after, error) => {
                    throttle_waits += 1;
                    if throttle_waits > config.max_throttle_waits {
                        return Err(ClientError::Throttled { retry_after });
                    }
                    let wait = retry_after.unwrap_or_else(|| backoff.next().unwrap_or(config.backoff.max_delay));
                    if wait > config.max_throttle_wait {
                        // Still pause everyone: PostHog will refuse them too.
                        keyed.budget.pause_for(wait);
                        return Err(ClientError::Throttled { retry_after: Some(wait) });
                    }
                    tracing::warn!(
                        wait_ms = wait.as_millis() as u64,
                        throttle_waits,
                        detail = %error.detail,
                        "PostHog throttled the key; every caller of this key waits"
                    );
                    keyed.budget.pause_for(wait);
                }
                Attempt::Transient { wait, error, timed_out, reached } => {
                    *maybe_applied |= reached;
                    if timed_out {
                        timeouts += 1;
                    }
                    if retries >= config.max_retries {
                        let attempts = retries + 1;
                        return Err(if timeouts == attempts { ClientError::Timeout { attempts } } else { error });
                    }
                    retries += 1;
                    let delay = match wait {
                        Some(wait) if wait <= config.max_throttle_wait => wait,
                        Some(_) => return Err(error),
                        None => backoff.next().unwrap_or(config.backoff.max_delay),
                    };
                    tracing::warn!(retry = retries, delay_ms = delay.as_millis() as u64, error = %error, "retrying PostHog request");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One HTTP exchange, classified.
    async fn attempt(&self, keyed: &Keyed, call: &Call) -> Attempt {
        let mut request = keyed.http.request(call.method.clone(), call.url.clone());
        if let Some(body) = &call.body {
            request = request.header(header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return transport_failure(keyed, &e),
        };
        let status = response.status();
        let retry_after = parse_retry_after(response.headers());
        let body = match response.bytes().await {
            Ok(bytes) => bytes.to_vec(),
            // The connection broke (or timed out) mid-body: the request may have been
            // applied, but it is idempotent, so it is sent again.
            Err(e) => return transport_failure(keyed, &e),
        };
        if status.is_success() {
            return Attempt::Done(if status == StatusCode::NO_CONTENT || body.is_empty() { Reply::NoContent } else { Reply::Body(body) });
        }
        let error = api_error(keyed, status, &body);
        match status.as_u16() {
            429 => {
                let wait = retry_after.or_else(|| parse_expected_available(&error.detail));
                Attempt::Throttled(wait, error)
            }
            401 => Attempt::Final(ClientError::Unauthorized(error)),
            500..=599 => Attempt::Transient { wait: retry_after, error: ClientError::Api(error), timed_out: false, reached: true },
            _ => Attempt::Final(ClientError::Api(error)),
        }
    }
}

fn transport_failure(keyed: &Keyed, e: &reqwest::Error) -> Attempt {
    if e.is_builder() {
        return Attempt::Final(ClientError::Config(scrub(keyed, &error_chain(e))));
    }
    let timed_out = e.is_timeout();
    let error = if timed_out { ClientError::Timeout { attempts: 1 } } else { ClientError::Transport(scrub(keyed, &error_chain(e))) };
    Attempt::Transient { wait: None, error, timed_out, reached: !e.is_connect() }
}

/// PostHog's error body as an [`ApiError`]; a body of another shape (a proxy's
/// page) yields the status and its reason, never the body itself.
fn api_error(keyed: &Keyed, status: StatusCode, body: &[u8]) -> ApiError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let reason = status.canonical_reason().unwrap_or("unexpected status");
    match parsed {
        Some(b) if b.kind.is_some() || b.detail.is_some() => ApiError {
            status: status.as_u16(),
            kind: ApiErrorKind::from_type(b.kind.as_deref().unwrap_or("")),
            code: scrub(keyed, b.code.as_deref().unwrap_or("")),
            detail: scrub(
                keyed,
                &match b.detail {
                    Some(serde_json::Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => reason.to_owned(),
                },
            ),
            attr: b.attr.map(|a| scrub(keyed, &a)),
        },
        _ => ApiError {
            status: status.as_u16(),
            kind: ApiErrorKind::Other(String::new()),
            code: String::new(),
            detail: format!("{reason} (the response was not a PostHog error body)"),
            attr: None,
        },
    }
}

/// Removes the key from a text that came from outside (an error body, an error
/// chain), in case something echoed it.
fn scrub(keyed: &Keyed, text: &str) -> String {
    scrub_secret(text, &keyed.api_key)
}

impl Call {
    pub(crate) fn get(url: Url) -> Self {
        Self { method: Method::GET, url, body: None, gone_is_done: false }
    }

    pub(crate) fn json(method: Method, url: Url, body: &impl Serialize) -> Result<Self, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Decode(format!("cannot encode the request: {e}")))?;
        Ok(Self { method, url, body: Some(body), gone_is_done: false })
    }
}

pub(crate) fn decode<T: DeserializeOwned>(reply: Reply) -> Result<T, ClientError> {
    match reply {
        Reply::Body(body) => serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string())),
        Reply::NoContent => Err(ClientError::Decode("PostHog answered without a body where one was expected".into())),
    }
}

fn decode_optional<T: DeserializeOwned>(reply: Reply) -> Result<Option<T>, ClientError> {
    match reply {
        Reply::NoContent => Ok(None),
        body => decode(body).map(Some),
    }
}

/// `Retry-After` in seconds, as DRF sends it (`"12"`); fractions are accepted.
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = raw.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// DRF's throttle text: "Request was throttled. Expected available in 12 seconds."
fn parse_expected_available(detail: &str) -> Option<Duration> {
    let (_, rest) = detail.split_once("available in ")?;
    let number: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let secs: f64 = number.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// An error and its causes on one line, without the URL (it may carry an email in
/// its query).
fn error_chain(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

pub(crate) fn scrub_secret(text: &str, key: &SecretString) -> String {
    let secret = key.expose_secret();
    if secret.is_empty() { text.to_owned() } else { text.replace(secret, "[REDACTED]") }
}

fn validate(config: &PostHogConfig) -> Result<(), ClientError> {
    let url = &config.base_url;
    let bad = |why: &str| Err(ClientError::Config(why.to_owned()));
    match url.scheme() {
        "https" => {}
        "http" if config.allow_plain_http || is_loopback(url) => {}
        "http" => {
            return bad(
                "the base URL is plain http to a remote host, which would send the API key in clear text; use https (or set allow_plain_http)",
            );
        }
        _ => return bad("the base URL must be http(s), e.g. https://us.posthog.com"),
    }
    if url.cannot_be_a_base() || url.host_str().is_none() {
        return bad("the base URL must name a host, e.g. https://eu.posthog.com");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("the base URL must not carry credentials; the API key is sent as a bearer token");
    }
    if config.organization_id.trim().is_empty() {
        return bad("the organization id is empty; use the uuid shown in PostHog's organization settings");
    }
    if config.api_key.expose_secret().trim().is_empty() {
        return bad("the API key is empty");
    }
    for (name, limit) in [("burst", config.burst), ("sustained", config.sustained)] {
        if limit.requests == 0 || limit.per.is_zero() {
            return Err(ClientError::Config(format!("the {name} rate limit must allow at least one request per non-zero period")));
        }
    }
    if config.page_size == 0 {
        return bad("the page size must be at least 1");
    }
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The activity-log scopes that record access changes (`scopes[]`, repeated).
const ACCESS_SCOPES: [&str; 2] = ["OrganizationMembership", "AccessControl"];

impl PostHogClient {
    /// Membership and access-rule changes since `since`, oldest first, from the
    /// organization's activity log (`GET /api/organizations/{org}/advanced_activity_logs/`,
    /// org admins only, a paid feature on PostHog Cloud). Read in numbered pages built
    /// here, never by following `next`.
    #[tracing::instrument(skip_all, fields(org = %self.inner.config.organization_id))]
    pub async fn access_activity_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::wire::ActivityLogEntry>, ClientError> {
        let start = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let size = self.inner.config.page_size.to_string();
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let number = page.to_string();
            let query = [
                ("start_date", start.as_str()),
                ("scopes[]", ACCESS_SCOPES[0]),
                ("scopes[]", ACCESS_SCOPES[1]),
                ("ordering", "created_at"),
                ("page", number.as_str()),
                ("page_size", size.as_str()),
            ];
            let url = self.url(&self.org_path(&["advanced_activity_logs"]), &query)?;
            let body: crate::wire::Page<crate::wire::ActivityLogEntry> = decode(self.execute(Call::get(url)).await?)?;
            let last = body.next.is_none() || body.results.is_empty();
            out.extend(body.results);
            if last {
                return Ok(out);
            }
        }
        Err(ClientError::Decode(format!("PostHog kept announcing more activity pages after {MAX_PAGES}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_and_the_throttle_text_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("12"));
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(12)));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(parse_retry_after(&headers), None);
        assert_eq!(parse_expected_available("Request was throttled. Expected available in 3 seconds."), Some(Duration::from_secs(3)));
        assert_eq!(parse_expected_available("Request was throttled. Expected available in 1 second."), Some(Duration::from_secs(1)));
        assert_eq!(parse_expected_available("Request was throttled."), None);
    }

    #[test]
    fn remote_plain_http_is_refused_but_loopback_is_not() {
        let config = |url: &str| PostHogConfig::new(Url::parse(url).unwrap(), SecretString::from("phx_k"), "org");
        assert!(validate(&config("http://posthog.internal.example")).is_err());
        assert!(validate(&config("http://127.0.0.1:8000")).is_ok());
        assert!(validate(&config("http://localhost:8000")).is_ok());
        let mut allowed = config("http://posthog.internal.example");
        allowed.allow_plain_http = true;
        assert!(validate(&allowed).is_ok());
        assert!(validate(&config("ftp://example.com")).is_err());
        assert!(validate(&config("https://user:pw@example.com")).is_err());
    }

    #[test]
    fn urls_keep_a_self_hosted_path_prefix_and_encode_ids() {
        let mut config = PostHogConfig::new(Url::parse("https://example.com/posthog").unwrap(), SecretString::from("phx_k"), "org/../x");
        config.page_size = 100;
        let client = PostHogClient::new(config).unwrap();
        let url = client.url(&client.org_path(&["members"]), &[("email", "a+b@example.com")]).unwrap();
        assert_eq!(url.as_str(), "https://example.com/posthog/api/organizations/org%2F..%2Fx/members/?email=a%2Bb%40example.com");
        let url = client.project_url(ProjectId::new(7).unwrap(), "access_controls").unwrap();
        assert_eq!(url.as_str(), "https://example.com/posthog/api/projects/7/access_controls/");
    }

    #[test]
    fn secrets_are_scrubbed_from_outside_text() {
        let key = SecretString::from("phx_secret");
        assert_eq!(scrub_secret("bad key phx_secret here", &key), "bad key [REDACTED] here");
    }
}
