//! The `PostHog` port against the PostHog sandbox (`tests/sandbox`) seeded with the
//! demo organization Acme Corp: the same client code, a fuller PostHog (permission
//! rules, throttling, faults that take effect before the connection drops).

use std::time::Duration;

use hogwarden_core::ports::{AccessSource, EffectiveAccess, Member, PostHog, PostHogError, Stage, Vault};
use hogwarden_core::types::{Email, OrgLevel, ProjectId, ProjectRole};
use hogwarden_posthog::{Backoff, PostHogClient, PostHogConfig, RateLimit};
use posthog_sandbox::{EXPIRED_INVITE, FaultKind, PENDING_INVITE, SERVICE_EMAIL, Sandbox, SandboxConfig, SandboxHandle, email};
use reqwest::Method;
use secrecy::SecretString;

async fn acme(config: SandboxConfig) -> SandboxHandle {
    Sandbox::start(config, "127.0.0.1:0".parse().expect("addr")).await.expect("sandbox")
}

fn client_config(sandbox: &SandboxHandle) -> PostHogConfig {
    let url = url::Url::parse(&sandbox.base_url()).expect("url");
    let mut config = PostHogConfig::new(url, SecretString::from(sandbox.service_api_key()), sandbox.organization_id());
    config.backoff = Backoff { min_delay: Duration::from_millis(10), max_delay: Duration::from_millis(50) };
    config.request_timeout = Duration::from_secs(2);
    config
}

fn client(sandbox: &SandboxHandle) -> PostHogClient {
    PostHogClient::new(client_config(sandbox)).expect("client")
}

async fn member(client: &PostHogClient, name: &str) -> Member {
    client.find_member(&Email::parse(&email(name)).unwrap()).await.unwrap().expect("an Acme Corp member")
}

fn project(sandbox: &SandboxHandle, name: &str) -> ProjectId {
    ProjectId::new(sandbox.project_id(name).expect("an Acme Corp project")).unwrap()
}

#[tokio::test]
async fn acme_corp_is_read_through_the_port() {
    // Arrange
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);

    // Act
    let members = PostHog::list_members(&client).await.unwrap();
    let projects = PostHog::list_projects(&client).await.unwrap();

    // Assert
    assert_eq!(members.len(), sandbox.member_emails().len());
    let alice = members.iter().find(|m| m.email.as_str() == "alice@example.com").unwrap();
    assert_eq!(alice.level, OrgLevel::Admin);
    let names: Vec<_> = projects.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 4);
    for name in ["Production", "Staging", "Web App", "Mobile App"] {
        assert!(names.contains(&name), "{names:?}");
    }
}

#[tokio::test]
async fn a_member_who_signed_up_with_capitals_is_found_by_the_lower_case_email_hogwarden_keeps() {
    // Arrange: PostHog's `email=` filter is exact and case-sensitive.
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let new = posthog_sandbox::NewMember {
        email: "Ada.Lovelace@Example.com".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        level: posthog_sandbox::OrgLevel::Member,
    };
    sandbox.add_member(new).unwrap();
    let before = sandbox.requests().len();

    // Act
    let found = client.find_member(&Email::parse("ada.lovelace@example.com").unwrap()).await.unwrap();
    let asked = sandbox.requests().len() - before;
    let nobody = client.find_member(&Email::parse("nobody@example.com").unwrap()).await.unwrap();
    let known_before = sandbox.requests().len();
    member(&client, "frank").await;

    // Assert
    assert_eq!(found.expect("found without regard to case").email.as_str(), "ada.lovelace@example.com");
    assert_eq!(asked, 2, "the exact filter, then the search");
    assert!(nobody.is_none());
    assert_eq!(sandbox.requests().len() - known_before, 1, "a lower-case email is found by the filter alone");
}

#[tokio::test]
async fn invitations_are_read_through_the_port_pending_and_expired() {
    // Arrange
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let writes = sandbox.write_count();

    // Act
    let pending = client.invitations_for(&Email::parse(PENDING_INVITE).unwrap()).await.unwrap();
    // The email is compared without regard to case, as PostHog's signup does.
    let expired = client.invitations_for(&Email::parse(&EXPIRED_INVITE.to_uppercase()).unwrap()).await.unwrap();
    let member = client.invitations_for(&Email::parse(&email("frank")).unwrap()).await.unwrap();

    // Assert
    assert_eq!(pending.len(), 1);
    assert!(!pending[0].expired);
    assert_eq!(pending[0].level, OrgLevel::Member);
    assert_eq!(pending[0].invited_by.as_ref().map(Email::as_str), Some("alice@example.com"));
    assert_eq!(pending[0].projects, vec![(project(&sandbox, "Web App"), "member".to_owned())]);
    assert_eq!(expired.len(), 1);
    assert!(expired[0].expired);
    assert!(expired[0].expires_at() < chrono::Utc::now());
    assert!(member.is_empty());
    assert_eq!(sandbox.write_count(), writes);
}

#[tokio::test]
async fn reading_invitations_maps_posthogs_errors_as_every_read_does() {
    // Arrange
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let mut config = client_config(&sandbox);
    config.max_retries = 1;
    let client = PostHogClient::new(config).unwrap();
    let who = Email::parse(PENDING_INVITE).unwrap();
    let invites = format!("/api/organizations/{}/invites", sandbox.organization_id());
    let reader = sandbox.issue_api_key(SERVICE_EMAIL, &["project:read"]).unwrap();
    let mut narrow = client_config(&sandbox);
    narrow.api_key = SecretString::from(reader);
    let narrow = PostHogClient::new(narrow).unwrap();

    // Act
    sandbox.fail_next(Method::GET, &invites, 2, FaultKind::Status5xx);
    let down = client.invitations_for(&who).await.unwrap_err();
    let refused = narrow.invitations_for(&who).await.unwrap_err();

    // Assert
    assert!(down.is_transient(), "{down:?}");
    assert!(
        matches!(refused, PostHogError::Rejected { status: 403, ref detail, .. } if detail.contains("organization_member:read")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_invitation_read_through_the_port_expires_with_the_sandbox_clock() {
    // Arrange
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let who = Email::parse(PENDING_INVITE).unwrap();

    // Act
    sandbox.advance_clock(chrono::Duration::days(3));
    let later = client.invitations_for(&who).await.unwrap();

    // Assert
    assert!(later[0].expired);
}

#[tokio::test]
async fn effective_access_is_read_as_posthog_resolves_it() {
    // Arrange
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let production = project(&sandbox, "Production");
    let mobile = project(&sandbox, "Mobile App");
    let role = sandbox.add_role("Mobile team", &[&email("frank")]).unwrap();
    sandbox.set_role_project_access(mobile.get(), &role, Some("admin")).unwrap();
    let frank = member(&client, "frank").await;

    // Act
    let grace = client.effective_access(&member(&client, "grace").await, production).await.unwrap();
    let alice = client.effective_access(&member(&client, "alice").await, production).await.unwrap();
    let frank_production = client.effective_access(&frank, production).await.unwrap();
    let frank_mobile = client.effective_access(&frank, mobile).await.unwrap();

    // Assert
    assert_eq!(grace, Some(EffectiveAccess { level: "member".into(), source: AccessSource::ExplicitMember }));
    assert_eq!(alice, Some(EffectiveAccess { level: "admin".into(), source: AccessSource::OrganizationAdmin }));
    assert_eq!(frank_production, None);
    assert_eq!(frank_mobile, Some(EffectiveAccess { level: "admin".into(), source: AccessSource::ExplicitRole }));
}

#[tokio::test]
async fn seeded_project_roles_read_back_as_the_demo_describes() {
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let production = project(&sandbox, "Production");
    let staging = project(&sandbox, "Staging");

    let victor = client.project_role(&member(&client, "victor").await, production).await.unwrap();
    let grace = client.project_role(&member(&client, "grace").await, production).await.unwrap();
    let judy = client.project_role(&member(&client, "judy").await, staging).await.unwrap();
    let frank = client.project_role(&member(&client, "frank").await, production).await.unwrap();

    assert_eq!(victor, Some(ProjectRole::Viewer));
    assert_eq!(grace, Some(ProjectRole::Member));
    assert_eq!(judy, Some(ProjectRole::Admin));
    assert_eq!(frank, None);
}

#[tokio::test]
async fn a_project_viewer_is_granted_and_removed() {
    // Arrange
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let production = project(&sandbox, "Production");
    let frank = member(&client, "frank").await;

    // Act
    let granted = client.set_project_role(&frank, production, Some(ProjectRole::Viewer)).await.unwrap();
    let rules_while_viewer = sandbox.resource_access(production.get(), &email("frank"));
    let removed = client.set_project_role(&frank, production, None).await.unwrap();

    // Assert
    assert_eq!(granted, Some(ProjectRole::Viewer));
    assert_eq!(rules_while_viewer.len(), posthog_sandbox::ACCESS_CONTROL_RESOURCES.len());
    assert!(rules_while_viewer.iter().all(|(_, level)| level == "viewer"), "{rules_while_viewer:?}");
    assert_eq!(removed, None);
    assert_eq!(sandbox.project_access(production.get(), &email("frank")), None);
    assert!(sandbox.resource_access(production.get(), &email("frank")).is_empty());
}

#[tokio::test]
async fn an_org_level_change_is_applied_and_read_back() {
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let grace = member(&client, "grace").await;

    let level = client.set_org_level(&grace, OrgLevel::Admin).await.unwrap();

    assert_eq!(level, OrgLevel::Admin);
    assert_eq!(sandbox.member_level(&email("grace")), Some(8));
}

#[tokio::test]
async fn changing_the_service_accounts_own_level_is_rejected_with_posthogs_reason() {
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let bot = client.find_member(&Email::parse(SERVICE_EMAIL).unwrap()).await.unwrap().unwrap();

    let err = client.set_org_level(&bot, OrgLevel::Member).await.unwrap_err();

    assert!(matches!(err, PostHogError::Rejected { status: 403, ref detail, .. } if detail.contains("your own access level")), "{err:?}");
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_is_retried_and_confirmed() {
    // Arrange: the PUT takes effect, then the connection drops.
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let production = project(&sandbox, "Production");
    let frank = member(&client, "frank").await;
    sandbox.fail_next(Method::PUT, &format!("/api/projects/{production}/access_controls"), 1, FaultKind::DropAfterWrite);
    sandbox.fail_next(Method::GET, "/api/projects/", 1, FaultKind::DatabaseUnavailable);

    // Act
    let role = client.set_project_role(&frank, production, Some(ProjectRole::Admin)).await.unwrap();

    // Assert
    assert_eq!(role, Some(ProjectRole::Admin));
    assert_eq!(sandbox.project_access(production.get(), &email("frank")).as_deref(), Some("admin"));
}

#[tokio::test]
async fn the_sandboxs_throttling_is_waited_out() {
    // Arrange: the sandbox allows 5 a second; the client's own budget is looser, so
    // PostHog's 429s are what slows it down.
    let sandbox =
        acme(SandboxConfig { rate_limit: posthog_sandbox::RateLimit::burst(5, Duration::from_secs(1)), ..SandboxConfig::acme_corp() })
            .await;
    let mut config = client_config(&sandbox);
    config.burst = RateLimit::new(100, Duration::from_secs(1));
    let client = PostHogClient::new(config).unwrap();

    // Act
    for _ in 0..8 {
        PostHog::list_projects(&client).await.unwrap();
    }

    // Assert
    assert!(sandbox.throttled_count() >= 1);
}

#[tokio::test]
async fn project_rules_read_every_member_as_project_role_reads_each_one() {
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let production = project(&sandbox, "Production");

    sandbox.clear_requests();
    let rules = client.project_rules(production).await.unwrap();
    let reads = sandbox.requests().len();

    assert_eq!(reads, 2, "the project rules and the resource rules, once each");
    for name in ["victor", "grace", "frank", "alice", "judy"] {
        let m = member(&client, name).await;
        assert_eq!(rules.of(&m.membership_id).role, client.project_role(&m, production).await.unwrap(), "{name}");
    }
    let victor = member(&client, "victor").await;
    assert!(rules.of(&victor.membership_id).resources.values().all(|l| l == "viewer"));
}

#[tokio::test]
async fn a_write_from_known_rules_costs_one_request_and_is_confirmed_by_posthogs_answer() {
    // Arrange: Frank has no rule in Production; Victor is a Viewer there.
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    let production = project(&sandbox, "Production");
    let frank = member(&client, "frank").await;
    let victor = member(&client, "victor").await;
    let rules = client.project_rules(production).await.unwrap();

    // Act: Frank becomes an admin, Victor moves from Viewer to Member.
    sandbox.clear_requests();
    let frank_now = client.write_project_role(&frank, production, Some(ProjectRole::Admin), &rules.of(&frank.membership_id)).await.unwrap();
    let frank_requests = sandbox.requests().len();
    let victor_now =
        client.write_project_role(&victor, production, Some(ProjectRole::Member), &rules.of(&victor.membership_id)).await.unwrap();

    // Assert: one PUT for Frank; Victor's project rule stays `member` and only his
    // viewer rules come off. PostHog (read afresh) agrees with what the writes returned.
    assert_eq!(frank_requests, 1);
    assert!(sandbox.requests().iter().all(|r| r.method == Method::PUT), "no reads");
    assert_eq!(frank_now.role, Some(ProjectRole::Admin));
    assert_eq!(victor_now.role, Some(ProjectRole::Member));
    assert!(victor_now.resources.is_empty());
    assert_eq!(client.project_role(&frank, production).await.unwrap(), Some(ProjectRole::Admin));
    assert_eq!(client.project_role(&victor, production).await.unwrap(), Some(ProjectRole::Member));
    assert!(sandbox.resource_access(production.get(), &email("victor")).is_empty());
    let reread = client.project_rules(production).await.unwrap();
    assert_eq!(reread.of(&frank.membership_id), frank_now);
    assert_eq!(reread.of(&victor.membership_id), victor_now);
}

// ------------------------------------------------------------ the key follows the vault

/// Hogwarden's key in a vault of its own: one secret, its current version set by hand,
/// every read counted.
#[derive(Default)]
struct OneSecretVault {
    current: std::sync::Mutex<Option<String>>,
    reads: std::sync::atomic::AtomicUsize,
}

const KEY_SECRET: &str = "hogwarden/posthog-api-key";

impl OneSecretVault {
    fn holding(key: &str) -> std::sync::Arc<Self> {
        let vault = Self::default();
        vault.store(key);
        std::sync::Arc::new(vault)
    }

    fn store(&self, key: &str) {
        *self.current.lock().unwrap() = Some(key.to_owned());
    }

    fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Vault for OneSecretVault {
    async fn get(&self, name: &str, stage: Stage) -> hogwarden_core::error::Result<Option<SecretString>> {
        assert_eq!((name, stage), (KEY_SECRET, Stage::Current), "the client reads its secret's current version");
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(self.current.lock().unwrap().clone().map(SecretString::from))
    }

    async fn stage_pending(&self, _: &str, _: &str, _: SecretString) -> hogwarden_core::error::Result<()> {
        unreachable!("the client never writes to the vault")
    }

    async fn promote(&self, _: &str, _: &str) -> hogwarden_core::error::Result<()> {
        unreachable!("the client never writes to the vault")
    }

    async fn version(&self, _: &str, _: &str) -> hogwarden_core::error::Result<Option<(SecretString, Vec<Stage>)>> {
        unreachable!("the client reads only the current version")
    }
}

/// A client that follows `vault`, started with the sandbox's service key.
fn following(sandbox: &SandboxHandle, vault: &std::sync::Arc<OneSecretVault>) -> PostHogClient {
    client(sandbox).following_vault(vault.clone(), KEY_SECRET)
}

/// Rolls the service account's key in PostHog (the old one stops working) and stores
/// the new one in the vault, as an admin replacing the key does. Returns the new key.
fn roll_and_store(sandbox: &SandboxHandle, old: &str, vault: &OneSecretVault) -> String {
    let new = sandbox.roll_api_key(old).expect("the key exists");
    vault.store(&new);
    new
}

/// `(method, status)` of every request since the last `clear_requests`.
fn statuses(sandbox: &SandboxHandle) -> Vec<(Method, Option<u16>)> {
    sandbox.requests().into_iter().map(|r| (r.method, r.status)).collect()
}

#[tokio::test]
async fn after_the_vault_gets_a_new_key_a_read_refused_with_the_old_one_is_sent_once_more_with_the_new_one() {
    // Arrange: the client started with the service key; an admin then rolled it and
    // stored the new value.
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let old = sandbox.service_api_key();
    let vault = OneSecretVault::holding(&old);
    let client = following(&sandbox, &vault);
    let before = client.key_fingerprint_prefix();
    let new = roll_and_store(&sandbox, &old, &vault);
    sandbox.clear_requests();

    // Act
    let projects = PostHog::list_projects(&client).await;

    // Assert: one 401, one vault read, the same GET again with the new key.
    assert!(!projects.expect("the read succeeds with the new key").is_empty());
    assert_eq!(statuses(&sandbox), [(Method::GET, Some(401)), (Method::GET, Some(200))]);
    assert_eq!(vault.reads(), 1);
    assert_eq!(client.key_fingerprint_prefix(), hogwarden_posthog::fingerprint(&SecretString::from(new.clone()))[..12]);
    assert_ne!(client.key_fingerprint_prefix(), before);
    let check = PostHog::check_key(&client).await.unwrap();
    assert!(check.accepted);
    assert_eq!(check.fingerprint, format!("sha256:{}", client.key_fingerprint_prefix()));
    assert_eq!(vault.reads(), 1, "a key PostHog accepts is not re-read");
}

#[tokio::test]
async fn after_the_vault_gets_a_new_key_a_write_refused_with_the_old_one_is_sent_once_more_and_applied() {
    // Arrange: Frank has no rule in Production; the key is rolled after the rules are read.
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let old = sandbox.service_api_key();
    let vault = OneSecretVault::holding(&old);
    let client = following(&sandbox, &vault);
    let production = project(&sandbox, "Production");
    let frank = member(&client, "frank").await;
    let rules = client.project_rules(production).await.unwrap();
    roll_and_store(&sandbox, &old, &vault);
    sandbox.clear_requests();
    let writes_before = sandbox.write_count();

    // Act
    let written = client.write_project_role(&frank, production, Some(ProjectRole::Admin), &rules.of(&frank.membership_id)).await;

    // Assert: the PUT PostHog refused changed nothing; the one sent again did.
    assert_eq!(written.expect("the write succeeds with the new key").role, Some(ProjectRole::Admin));
    assert_eq!(statuses(&sandbox), [(Method::PUT, Some(401)), (Method::PUT, Some(200))]);
    assert_eq!(sandbox.write_count(), writes_before + 1);
    assert_eq!(sandbox.project_access(production.get(), &email("frank")).as_deref(), Some("admin"));
    assert_eq!(vault.reads(), 1);
}

#[tokio::test]
async fn a_clone_of_the_client_uses_the_key_another_clone_picked_up() {
    // Arrange: two clones of one client (the stack hands clones to every use case).
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let old = sandbox.service_api_key();
    let vault = OneSecretVault::holding(&old);
    let client = following(&sandbox, &vault);
    let clone = client.clone();
    roll_and_store(&sandbox, &old, &vault);
    PostHog::list_projects(&client).await.unwrap();
    sandbox.clear_requests();

    // Act
    let members = PostHog::list_members(&clone).await;

    // Assert: the clone sends the new key straight away: no 401, no vault read.
    assert!(!members.unwrap().is_empty());
    assert!(statuses(&sandbox).iter().all(|(_, status)| *status == Some(200)), "{:?}", statuses(&sandbox));
    assert_eq!(clone.key_fingerprint_prefix(), client.key_fingerprint_prefix());
    assert_eq!(vault.reads(), 1);
}

#[tokio::test]
async fn a_401_with_the_key_the_vault_still_holds_is_unauthorized_after_one_request_and_one_vault_read() {
    // Arrange: PostHog stops accepting the key, and the vault holds nothing newer.
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let old = sandbox.service_api_key();
    let vault = OneSecretVault::holding(&old);
    let client = following(&sandbox, &vault);
    let before = client.key_fingerprint_prefix();
    sandbox.roll_api_key(&old).expect("the key exists");
    sandbox.clear_requests();

    // Act
    let read = PostHog::list_projects(&client).await;
    let check = PostHog::check_key(&client).await.unwrap();

    // Assert: each call made one request and read the vault once, without looping.
    assert_eq!(read.unwrap_err(), PostHogError::Unauthorized);
    assert!(!check.accepted);
    assert_eq!(statuses(&sandbox), [(Method::GET, Some(401)), (Method::GET, Some(401))]);
    assert_eq!(vault.reads(), 2);
    assert_eq!(client.key_fingerprint_prefix(), before);
}

#[tokio::test]
async fn a_client_that_does_not_follow_a_vault_keeps_its_key_after_a_401() {
    let sandbox = acme(SandboxConfig::acme_corp()).await;
    let client = client(&sandbox);
    sandbox.roll_api_key(&sandbox.service_api_key()).expect("the key exists");
    sandbox.clear_requests();

    let read = PostHog::list_projects(&client).await;

    assert_eq!(read.unwrap_err(), PostHogError::Unauthorized);
    assert_eq!(statuses(&sandbox), [(Method::GET, Some(401))]);
}
