//! `GET /api/keys`: the inventory of every PostHog key Hogwarden knows, on the local
//! stack with the sandbox. Fingerprints only; no key value in the answer.

use hogwarden_api_types as dto;
use hogwarden_core::keys::{fingerprint, short_fingerprint};
use hogwarden_core::types::ProjectId;
use hogwarden_e2e::{APPROVER, MEMBER, spawn_stack_with};

const FLAGS_KEY: &str = "hogwarden/flags-key";

#[tokio::test]
async fn the_inventory_lists_every_key_by_fingerprint_with_its_rotation_and_never_a_value() {
    // Arrange: one key Hogwarden rotates, one another team made in PostHog.
    let t = spawn_stack_with(|c| c.policy.keys.managed_secrets = vec![FLAGS_KEY.into()]).await;
    let production = t.sandbox().project_id("Production").unwrap();
    let staging = t.sandbox().project_id("Staging").unwrap();
    t.stack
        .rotation
        .enrol(FLAGS_KEY, "enrol-1", ProjectId::new(production).unwrap(), &["feature_flag:read".into()])
        .await
        .expect("enrolled");
    t.sandbox().create_secret_key_as(APPROVER, staging, "edge workers", &["feature_flag:read"]).expect("an admin makes one in PostHog");
    let calls_before = t.sandbox().requests().len();

    // Act
    let listed = t.get(APPROVER, "/api/keys").await;
    let refused = t.get(MEMBER, "/api/keys").await;

    // Assert
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(refused.status, 403);
    let list: dto::KeyList = listed.json();
    let service = &list.keys[0];
    assert_eq!((service.name.as_str(), service.kind.as_str(), service.accepted), ("Hogwarden service key", "personal_api_key", Some(true)));
    assert!(service.fingerprint.is_some());

    let tokens: Vec<_> = list.keys.iter().filter(|k| k.kind == "project_token").collect();
    assert_eq!(tokens.len(), 4, "one token per project");
    let production_token = tokens.iter().find(|k| k.project_id == Some(production)).expect("Production's token");
    let token_value = t.sandbox().project_token(production).unwrap();
    assert_eq!(production_token.fingerprint.as_deref(), Some(short_fingerprint(&fingerprint(&token_value)).as_str()));
    assert!(!production_token.managed);

    let managed = list.keys.iter().find(|k| k.managed_secret.as_deref() == Some(FLAGS_KEY)).expect("the managed key is listed");
    assert_eq!(managed.kind, "project_secret_api_key");
    assert!(managed.managed);
    assert_eq!(managed.project_id, Some(production));
    assert_eq!(managed.scopes, vec!["feature_flag:read".to_owned()]);
    assert!(managed.created_at.is_some());
    assert!(managed.last_rotated_at.is_some(), "the enrolment is the last rotation");
    let current = t.stack.rotation.current_value(FLAGS_KEY).await.unwrap();
    let value = secrecy::ExposeSecret::expose_secret(&current).to_owned();
    assert_eq!(managed.fingerprint.as_deref(), Some(short_fingerprint(&fingerprint(&value)).as_str()));

    let other = list.keys.iter().find(|k| k.label.as_deref() == Some("edge workers")).expect("the unmanaged key is listed");
    assert_eq!(other.fingerprint, None, "PostHog shows it only masked");
    assert!(!other.managed && other.last_rotated_at.is_none());
    assert_eq!(other.project_id, Some(staging));

    assert_eq!(list.keys.iter().filter(|k| k.kind == "project_secret_api_key").count(), 2);
    assert!(list.notes.iter().any(|n| n.contains("personal API keys") && n.contains("owner")), "{:?}", list.notes);

    let body = listed.body.to_string();
    for secret in [t.sandbox().service_api_key(), token_value, value] {
        assert!(!body.contains(&secret), "no key value in the answer");
    }
    for prefix in ["phx_", "phc_", "phs_"] {
        // PostHog's masks (`phs_...abcd`) are the only place a prefix may appear.
        let unmasked = body.matches(prefix).count() - body.matches(&format!("{prefix}...")).count();
        assert_eq!(unmasked, 0, "no key value in the answer: {prefix}");
    }
    assert!(other.mask.as_deref().is_some_and(|m| m.starts_with("phs_...") && m.len() == 11), "{:?}", other.mask);
    assert_eq!(managed.mask, None, "a key Hogwarden holds shows its fingerprint");
    // One key check, its metadata (`@current`, keys-alerts), one list of projects, one list
    // of secret keys per project (the refused member costs none).
    let calls = t.sandbox().requests().len() - calls_before;
    assert!(calls <= 1 + 1 + 1 + 4, "{calls} PostHog calls");
    // keys-alerts: Hogwarden's own key's metadata, as PostHog tells the key itself.
    assert!(!list.keys[0].scopes.is_empty() && list.keys[0].label.is_some() && list.keys[0].created_at.is_some(), "{:?}", list.keys[0]);
    t.shutdown().await;
}
