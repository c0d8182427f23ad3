//! Leaked-key alerts: a webhook is verified, checked against replay, and every leaked
//! value it carries is matched by fingerprint and answered as PostHog allows (DESIGN.md,
//! "Keys and leaked-key response"):
//!
//! | leaked | response |
//! |---|---|
//! | a managed project secret key (`phs_`) | rotated at once, the leaked key deleted |
//! | another `phs_` or any `phx_` | reported to PostHog's public `revoke_leaked_key` (PostHog rolls it and emails its owner); security contacts told; the key it fits by PostHog's mask (an unmanaged `phs_` PostHog lists, an imported `phx_`) is named, and its consumers' owners and a `phx_` key's owner are told |
//! | Hogwarden's own key | reported too; PostHog writes fail until an admin stores a new key, which the running functions pick up |
//! | a project token (`phc_`) | the project's guided rotation opens (its consumers' owners are warned); security contacts told (PostHog resets it only from a session) |
//!
//! A refused webhook (bad signature, missing header, stale, replayed, malformed) changes
//! nothing: it is logged at warn level and answered 4xx. Values never leave this module
//! except as fingerprints.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;

use crate::audit::AuditKind;
use crate::consumers::KeyRef;
use crate::keys::{KeyKind, fingerprint, fits_mask, short_fingerprint};
use crate::ports::{Stage, Vault};
use crate::types::Actor;
use crate::usecases::KeyRotation;
use crate::webhooks::{self, DeliveryClaim, DeliveryLog, GitHubAlerts, LeakReporter, Provider, WebhookError};

/// A key Hogwarden knows only by PostHog's mask, which a leaked value fits.
struct MaskedKey {
    /// How people know it, e.g. "project secret key flags of Web App".
    name: String,
    key: KeyRef,
    /// A personal key's owner.
    owner: Option<crate::types::Email>,
}

/// The vault entry holding a provider's webhook secret (GitHub's webhook secret,
/// GitGuardian's signature token, the generic format's shared key).
pub fn webhook_secret_name(provider: Provider) -> String {
    format!("hogwarden/webhooks/{}", provider.as_str())
}

/// What was done about one leaked value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeakAction {
    /// `project_secret`, `project_token`, `personal`, or `unknown`.
    pub kind: String,
    pub fingerprint: String,
    pub action: String,
}

/// The answer to an accepted alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertReport {
    pub provider: String,
    pub delivery_id: String,
    pub actions: Vec<LeakAction>,
}

/// Why an alert was not acted on.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// Refused before anything changed (4xx).
    #[error(transparent)]
    Refused(#[from] WebhookError),
    /// Accepted, but the response failed part-way (5xx). The delivery's claim is given
    /// back, so the sender's retry is handled; only a handled delivery is a replay.
    #[error(transparent)]
    Failed(#[from] crate::Error),
}

/// Answers leaked-key alerts. Cheap to clone.
#[derive(Clone)]
pub struct LeakResponse {
    rotation: KeyRotation,
    vault: Arc<dyn Vault>,
    deliveries: Arc<dyn DeliveryLog>,
    reporter: Arc<dyn LeakReporter>,
    github: Option<Arc<dyn GitHubAlerts>>,
    /// Vault names of the project secret keys Hogwarden rotates.
    managed: Vec<String>,
    /// Vault name of Hogwarden's own PostHog key.
    service_key_secret: String,
    /// Guided project-token rotations, opened by a leaked `phc_` value.
    guided: Option<crate::usecases::TokenRotations>,
}

impl std::fmt::Debug for LeakResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeakResponse").field("managed", &self.managed).finish_non_exhaustive()
    }
}

impl LeakResponse {
    pub fn new(
        rotation: KeyRotation,
        vault: Arc<dyn Vault>,
        deliveries: Arc<dyn DeliveryLog>,
        reporter: Arc<dyn LeakReporter>,
        service_key_secret: impl Into<String>,
    ) -> Self {
        Self {
            rotation,
            vault,
            deliveries,
            reporter,
            github: None,
            managed: Vec::new(),
            service_key_secret: service_key_secret.into(),
            guided: None,
        }
    }

    /// The project secret keys (vault names) a `phs_` leak is matched against.
    #[must_use]
    pub fn managing(mut self, secrets: Vec<String>) -> Self {
        self.managed = secrets;
        self
    }

    /// Opens guided rotations for leaked project tokens.
    #[must_use]
    pub fn with_token_rotations(mut self, guided: crate::usecases::TokenRotations) -> Self {
        self.guided = Some(guided);
        self
    }

    #[must_use]
    pub fn with_github(mut self, github: Arc<dyn GitHubAlerts>) -> Self {
        self.github = Some(github);
        self
    }

    /// Handles one webhook delivery: `provider` from the path, `header` by lower-case name.
    pub async fn receive(
        &self,
        provider: &str,
        header: &(dyn Fn(&str) -> Option<String> + Sync),
        body: &[u8],
    ) -> Result<AlertReport, AlertError> {
        let result = self.receive_inner(provider, header, body).await;
        if let Err(AlertError::Refused(e)) = &result {
            tracing::warn!(provider = %provider.chars().take(20).collect::<String>(), reason = e.code(), error = %e, "leaked-key webhook refused; nothing changed");
            self.record_refused(provider, e.code(), &e.to_string()).await;
        }
        result
    }

    /// Records a refused webhook in the alert history: provider, reason and time only
    /// (never the body or a header value), counted into one record per minute, provider
    /// and reason. A failure to record is logged; the refusal stands either way.
    pub async fn record_refused(&self, provider: &str, reason: &str, detail: &str) {
        let alert = crate::alerts::AlertRecord::refused(provider, self.rotation.app().clock.now(), reason, detail);
        if let Err(e) = self.rotation.app().store.alerts().record_alert(&alert).await {
            tracing::warn!(error = %e, "could not record the refused webhook in the alert history");
        }
    }

    async fn receive_inner(
        &self,
        provider: &str,
        header: &(dyn Fn(&str) -> Option<String> + Sync),
        body: &[u8],
    ) -> Result<AlertReport, AlertError> {
        let provider = Provider::parse(provider).ok_or(WebhookError::UnknownProvider)?;
        let secret = self.vault.get(&webhook_secret_name(provider), Stage::Current).await?.ok_or(WebhookError::NotConfigured)?;
        let app = self.rotation.app();
        let verified = webhooks::verify(provider, &secret, header, body, app.clock.now())?;
        // Only a verified body is read.
        let values = match provider {
            Provider::GitHub if header("x-github-event").as_deref() != Some("secret_scanning_alert") => Vec::new(),
            Provider::GitHub => {
                let alert = webhooks::github_alert(body, app.clock.now())?;
                let github = self.github.as_ref().ok_or(WebhookError::NotConfigured)?;
                match alert.action.as_str() {
                    "created" | "reopened" | "publicly_leaked" | "validated" => {
                        github.alert_secret(&alert.repository, alert.number).await?.into_iter().collect()
                    }
                    _ => Vec::new(),
                }
            }
            other => webhooks::leaked_values(other, body)?.into_iter().map(SecretString::from).collect(),
        };
        // Claimed before anything is done, marked done only once handled: a delivery
        // whose handling failed (PostHog answered 503) is released and its retry is
        // handled, while a handled one is refused as a replay. Redoing a failed
        // delivery rolls nothing twice: a rotated key no longer matches the vault's
        // current key (its deletion is retried through the previous stage), and PostHog
        // rolls a reported key only while the leaked value still works.
        match self.deliveries.claim_delivery(provider, &verified.replay_key, app.clock.now()).await? {
            DeliveryClaim::Claimed => {}
            DeliveryClaim::InProgress => return Err(WebhookError::InProgress.into()),
            DeliveryClaim::Done => return Err(WebhookError::Replayed.into()),
        }
        let received_at = app.clock.now();
        let alert_id = crate::alerts::AlertRecord::accepted(provider.as_str(), received_at, &verified.delivery_id, &[]).id;
        let handled = match self.respond_all(provider, &verified.delivery_id, &alert_id, &values).await {
            Ok(actions) => self.deliveries.finish_delivery(provider, &verified.replay_key, app.clock.now()).await.map(|()| actions),
            Err(e) => Err(e),
        };
        let actions = match handled {
            Ok(actions) => actions,
            Err(e) => {
                if let Err(release) = self.deliveries.release_delivery(provider, &verified.replay_key).await {
                    tracing::warn!(error = %release, "could not release a failed delivery; its retry waits until the claim lapses");
                }
                return Err(e.into());
            }
        };
        let leaks: Vec<crate::alerts::AlertLeak> = actions
            .iter()
            .map(|a| crate::alerts::AlertLeak { kind: a.kind.clone(), fingerprint: a.fingerprint.clone(), action: a.action.clone() })
            .collect();
        let record = crate::alerts::AlertRecord::accepted(provider.as_str(), received_at, &verified.delivery_id, &leaks);
        if let Err(e) = app.store.alerts().record_alert(&record).await {
            tracing::warn!(error = %e, "could not record the accepted alert in the alert history");
        }
        tracing::info!(provider = provider.as_str(), delivery = %verified.delivery_id, leaked = actions.len(), "leaked-key alert handled");
        Ok(AlertReport { provider: provider.as_str().into(), delivery_id: verified.delivery_id, actions })
    }

    /// Responds to each leaked value of one delivery and audits each response.
    async fn respond_all(
        &self,
        provider: Provider,
        delivery_id: &str,
        alert_id: &str,
        values: &[SecretString],
    ) -> Result<Vec<LeakAction>, crate::Error> {
        let app = self.rotation.app();
        let mut actions = Vec::new();
        for value in values {
            let action = self.respond_to(value, Some(alert_id), provider.as_str()).await?;
            app.record(
                Actor::System(format!("webhook:{}", provider.as_str())),
                AuditKind::KeyAlert,
                json!({ "provider": provider.as_str(), "delivery_id": delivery_id, "kind": action.kind, "fingerprint": action.fingerprint, "action": action.action }),
            )
            .await?;
            actions.push(action);
        }
        Ok(actions)
    }

    /// What Hogwarden does about one leaked value.
    pub async fn respond(&self, value: &SecretString) -> Result<LeakAction, crate::Error> {
        self.respond_to(value, None, "generic").await
    }

    async fn respond_to(&self, value: &SecretString, alert_id: Option<&str>, provider: &str) -> Result<LeakAction, crate::Error> {
        let raw = value.expose_secret();
        let full = fingerprint(raw);
        let short = short_fingerprint(&full);
        let kind = KeyKind::of(raw);
        let app = self.rotation.app();
        let action = match kind {
            Some(KeyKind::ProjectSecret) => {
                let mut done = None;
                for secret in &self.managed {
                    if let Some(what) = self.rotation.revoke_leaked(secret, &full).await? {
                        done = Some(format!("{what} ({secret})"));
                        break;
                    }
                }
                match done {
                    Some(done) => done,
                    None => {
                        // Read before reporting: PostHog's roll changes the mask.
                        let fits = self.masked_secret_keys(raw).await;
                        let reported = self.report(value, "a project secret key Hogwarden does not manage").await?;
                        self.tell_masked(&fits, &short, &reported).await
                    }
                }
            }
            Some(KeyKind::Personal) => {
                let own = self.vault.get(&self.service_key_secret, Stage::Current).await?;
                let is_own = own.as_ref().is_some_and(|k| fingerprint(k.expose_secret()) == full);
                if is_own {
                    // Pause first: nothing may go out with a key that is public now.
                    super::pause::pause_writes(
                        &*app.store,
                        app.clock.now(),
                        Actor::System(format!("webhook:{provider}")),
                        format!("Hogwarden's own PostHog key ({short}) leaked (reported by {provider})"),
                        Some(short.clone()),
                        alert_id.map(str::to_owned),
                    )
                    .await?;
                    let reported = self.report(value, "Hogwarden's own key").await?;
                    format!("{reported}; PostHog writes are paused until an admin stores a new service key")
                } else {
                    let fits = self.masked_personal_keys(raw).await;
                    let reported = self.report(value, "a personal API key").await?;
                    self.tell_masked(&fits, &short, &reported).await
                }
            }
            Some(KeyKind::ProjectToken) => match &self.guided {
                Some(guided) => match guided.open_for_leak(&full).await? {
                    Some((r, opened)) => format!(
                        "project token of {}: guided rotation {} (consumers' owners warned); an admin must reset it in PostHog's project settings",
                        r.project_name,
                        if opened { "opened" } else { "already open" }
                    ),
                    None => "a project token no project holds now; nothing to rotate".into(),
                },
                None => "project token: start the guided rotation (PostHog resets it only from a signed-in session)".into(),
            },
            None => "not a PostHog key; nothing to do".into(),
        };
        if kind.is_some() {
            for contact in &app.policy.security_contacts {
                let body = format!("A leaked PostHog key ({short}) was reported. Hogwarden's response: {action}.");
                app.tell(contact, "Leaked PostHog key".into(), body, Some(app.page_link("keys"))).await;
            }
        }
        Ok(LeakAction { kind: kind.map_or("unknown", KeyKind::as_str).into(), fingerprint: short, action })
    }

    /// The project secret keys PostHog lists whose mask the leaked value fits (only
    /// unmanaged ones get here). A PostHog failure is logged: the report goes out anyway.
    async fn masked_secret_keys(&self, raw: &str) -> Vec<MaskedKey> {
        let keys = self.rotation.project_keys();
        let mut fits = Vec::new();
        let projects = match keys.project_tokens().await {
            Ok(projects) => projects,
            Err(e) => {
                tracing::warn!(error = %e, "could not list PostHog's projects to name the leaked key");
                return fits;
            }
        };
        for p in projects {
            match keys.list_secret_keys(p.project).await {
                Ok(listed) => {
                    fits.extend(listed.into_iter().filter(|k| k.mask.as_deref().is_some_and(|m| fits_mask(raw, m))).map(|k| MaskedKey {
                        name: format!("project secret key {} of {}", k.label, p.project_name),
                        key: KeyRef::SecretKey { project: p.project, id: k.id },
                        owner: None,
                    }))
                }
                Err(e) => tracing::warn!(error = %e, project = %p.project, "could not list a project's secret keys to name the leaked key"),
            }
        }
        fits
    }

    /// The imported personal keys (still listed) whose mask the leaked value fits.
    async fn masked_personal_keys(&self, raw: &str) -> Vec<MaskedKey> {
        match self.rotation.app().store.alerts().list_personal_keys().await {
            Ok(keys) => keys
                .into_iter()
                .filter(|k| k.listed && fits_mask(raw, &k.mask))
                .map(|k| MaskedKey {
                    name: format!("personal API key {} of {}", k.mask, k.owner),
                    key: KeyRef::PersonalKey(k.id),
                    owner: Some(k.owner),
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the personal keys to name the leaked key");
                Vec::new()
            }
        }
    }

    /// Tells the owners of the fitting keys' consumers (and a personal key's owner) what
    /// happened, and says so in the action.
    async fn tell_masked(&self, fits: &[MaskedKey], short: &str, reported: &str) -> String {
        let app = self.rotation.app();
        let mut told: Vec<crate::types::Email> = Vec::new();
        for fit in fits {
            let consumers = match app.consumers_of(&fit.key).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the leaked key's consumers");
                    Vec::new()
                }
            };
            let mut owners: Vec<crate::types::Email> = consumers.iter().map(|c| c.owner.clone()).chain(fit.owner.clone()).collect();
            owners.sort();
            owners.dedup();
            for owner in owners {
                let places: Vec<&str> = consumers.iter().filter(|c| c.owner == owner).map(|c| c.name.as_str()).collect();
                let yours = if fit.owner.as_ref() == Some(&owner) {
                    "It is your key: create a new one in PostHog under Settings → Personal API keys and put it wherever the old one was used.".to_owned()
                } else {
                    format!("You own {}, which uses it: put a new key there. Until then it fails.", places.join(", "))
                };
                let body = format!(
                    "A leaked PostHog key ({short}) fits the {} ({}). Hogwarden's response: {reported}; the old value no longer works. {yours}",
                    fit.name,
                    if fits.len() > 1 { "one of several keys with the same mask" } else { "PostHog shows the key only masked" },
                );
                if app.tell(&owner, "A PostHog key you use leaked".into(), body, Some(app.page_link("keys"))).await
                    && !told.contains(&owner)
                {
                    told.push(owner);
                }
            }
        }
        match fits {
            [] => reported.to_owned(),
            [one] => format!("{reported}; it is the {}, {} owner(s) told", one.name, told.len()),
            many => format!("{reported}; it fits the mask of {} keys, {} owner(s) told", many.len(), told.len()),
        }
    }

    async fn report(&self, value: &SecretString, what: &str) -> Result<String, crate::Error> {
        let write = super::PostHogWrite::ReportLeakedKey { reporter: &*self.reporter, value };
        let trigger = crate::authorize::Authorization::KeyResponse(format!("leak alert: {what}"));
        let super::Written::Reported(reported) = self.rotation.app().writes().write(write, &trigger).await?.0 else {
            return Err(crate::Error::Storage("a leak report was answered with something else".into()));
        };
        Ok(match reported {
            Some(kind) => format!("{what}: reported to PostHog, which rolled it ({kind}) and emails its owner"),
            None => format!("{what}: reported to PostHog, which did not find it"),
        })
    }
}
