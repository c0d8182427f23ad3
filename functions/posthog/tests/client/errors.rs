//! PostHog's error bodies, authentication, and keeping the key out of every message.

use hogwarden_core::ports::{PostHog, PostHogError};
use hogwarden_core::types::ProjectId;
use hogwarden_posthog::wire::ProjectAccessLevel;
use hogwarden_posthog::{ApiErrorKind, ClientError, PostHogClient, PostHogConfig};
use secrecy::SecretString;

use crate::fake::{FakePostHog, Fault, unique_key};

#[tokio::test]
async fn a_validation_error_becomes_rejected_with_its_detail_and_is_not_retried() {
    // Arrange: a membership id PostHog does not know.
    let fake = FakePostHog::start().await;
    fake.add_project(7, "Web");

    // Act
    let err = fake
        .client()
        .put_access_control(ProjectId::new(7).unwrap(), "0190c7e6-0000-7000-8000-0000000000ff", Some(ProjectAccessLevel::Member))
        .await
        .unwrap_err();

    // Assert
    let ClientError::Api(api) = &err else { panic!("expected an API error, got {err:?}") };
    assert_eq!(api.status, 400);
    assert_eq!(api.kind, ApiErrorKind::Validation);
    assert_eq!(api.code, "invalid_input");
    assert_eq!(api.attr.as_deref(), Some("organization_member"));
    match PostHogError::from(err) {
        PostHogError::Rejected { status, code, detail } => {
            assert_eq!((status, code.as_str()), (400, "invalid_input"));
            assert!(detail.starts_with("Invalid organization member id."), "{detail}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(fake.hit_count(), 1);
}

#[tokio::test]
async fn a_permission_error_is_rejected_and_not_retried() {
    // Arrange
    let fake = FakePostHog::start().await;
    fake.push_fault(Fault::drf(
        403,
        "authentication_error",
        "permission_denied",
        "API key missing required scope 'organization_member:read'",
    ));

    // Act
    let err = PostHog::list_members(&fake.client()).await.unwrap_err();

    // Assert
    assert_eq!(
        err,
        PostHogError::Rejected {
            status: 403,
            code: "permission_denied".into(),
            detail: "API key missing required scope 'organization_member:read'".into()
        }
    );
    assert_eq!(fake.hit_count(), 1);
}

#[tokio::test]
async fn a_401_is_unauthorized_and_not_retried() {
    // Arrange: the client holds a key PostHog does not accept.
    let fake = FakePostHog::start().await;
    let mut config = fake.config();
    config.api_key = SecretString::from(unique_key());
    let client = PostHogClient::new(config).unwrap();

    // Act
    let err = client.list_members().await.unwrap_err();

    // Assert
    assert!(matches!(err, ClientError::Unauthorized(ref e) if e.detail.contains("is invalid")), "{err:?}");
    assert_eq!(PostHogError::from(err), PostHogError::Unauthorized);
    assert_eq!(fake.hit_count(), 1);
}

#[tokio::test]
async fn a_proxy_error_page_is_reported_by_status_without_its_body() {
    // Arrange
    let fake = FakePostHog::start().await;
    let mut config = fake.config();
    config.max_retries = 1;
    fake.push_fault(Fault::Html { status: 502 });
    fake.push_fault(Fault::Html { status: 502 });
    let client = PostHogClient::new(config).unwrap();

    // Act
    let err = client.list_projects().await.unwrap_err();

    // Assert
    let ClientError::Api(api) = &err else { panic!("{err:?}") };
    assert_eq!(api.status, 502);
    assert!(api.detail.starts_with("Bad Gateway"), "{}", api.detail);
    assert!(!err.to_string().contains("<html>"));
    assert!(err.is_transient());
}

#[tokio::test]
async fn requests_carry_the_bearer_key_the_user_agent_and_json() {
    // Arrange
    let fake = FakePostHog::start().await;
    let (_, membership) = fake.add_member(1, "ada@example.com", 1);
    fake.add_project(7, "Web");

    // Act
    fake.client().put_access_control(ProjectId::new(7).unwrap(), &membership, None).await.unwrap();

    // Assert
    let hit = &fake.hits()[0];
    assert_eq!(hit.authorization.as_deref(), Some(format!("Bearer {}", fake.key).as_str()));
    assert_eq!(hit.user_agent.as_deref(), Some(concat!("hogwarden/", env!("CARGO_PKG_VERSION"))));
    assert_eq!(hit.path, "/api/projects/7/access_controls/");
    assert_eq!(hit.body, Some(serde_json::json!({"organization_member": membership, "access_level": null})));
}

#[tokio::test]
async fn no_message_or_debug_output_contains_the_key() {
    // Arrange: a server that echoes the key back in its error detail.
    let fake = FakePostHog::start().await;
    let echo = format!("Personal API key {} is invalid.", fake.key);
    fake.push_fault(Fault::drf(400, "validation_error", "invalid_input", &echo));
    let client = fake.client();
    let config = fake.config();

    // Act
    let api_err = client.list_projects().await.unwrap_err();
    let port_err = PostHogError::from(api_err.clone());
    let config_err =
        PostHogClient::new(PostHogConfig { base_url: url::Url::parse("http://posthog.example.com").unwrap(), ..fake.config() })
            .unwrap_err();

    // Assert
    let texts = [
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{api_err}"),
        format!("{api_err:?}"),
        format!("{port_err}"),
        format!("{port_err:?}"),
        format!("{config_err}"),
        format!("{config_err:?}"),
    ];
    for text in &texts {
        assert!(!text.contains(&fake.key), "the key leaked into: {text}");
    }
    assert!(texts[2].contains("[REDACTED]"), "{}", texts[2]);
}
