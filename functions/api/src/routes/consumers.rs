//! Key consumers and guided project-token rotations (the key-rotation Lambda). Admins only.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hogwarden_api_types as dto;
use hogwarden_core::consumers::{Consumer, TokenRotation};
use hogwarden_core::keys::short_fingerprint;
use hogwarden_core::types::{ParseError, Principal, ProjectId};
use hogwarden_core::usecases::{NewConsumer, TokenRotations};
use serde::Deserialize;

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};

pub(crate) fn consumer(c: &Consumer) -> dto::ConsumerDto {
    dto::ConsumerDto {
        id: c.id.clone(),
        key: c.key.clone(),
        kind: c.kind.as_str().to_owned(),
        name: c.name.clone(),
        owner: c.owner.to_string(),
        added_by: c.added_by.to_string(),
        added_at: c.added_at,
        version: c.version,
    }
}

fn rotation(r: &TokenRotation, consumers: &[Consumer]) -> dto::TokenRotationDto {
    let key = format!("project_token:{}", r.project);
    let instructions = match r.next_step() {
        Some(hogwarden_core::consumers::TokenStepKind::ResetDetected) => format!(
            "Consumers are warned. Now a project admin resets the token in PostHog: open the project {} → Settings → Project → Project API key → Reset. \
             Then press \"Check now\" (Hogwarden also checks on its schedule).",
            r.project_name
        ),
        Some(_) => "Hogwarden runs the remaining steps on the next check.".into(),
        None => "Done: the new token is stored, PostHog accepts it, and consumers were told to update.".into(),
    };
    dto::TokenRotationDto {
        project_id: r.project.get(),
        project_name: r.project_name.clone(),
        id: r.id.clone(),
        status: r.status.as_str().to_owned(),
        reason: r.reason.clone(),
        started_by: r.started_by.clone(),
        started_at: r.started_at,
        old_fingerprint: short_fingerprint(&r.old_fingerprint),
        new_fingerprint: r.new_fingerprint.as_deref().map(short_fingerprint),
        steps: r
            .steps
            .iter()
            .map(|s| dto::TokenStepDto {
                kind: s.kind.as_str().to_owned(),
                label: s.kind.describe().to_owned(),
                at: s.at,
                note: s.note.clone(),
            })
            .collect(),
        warned: r.warned.iter().map(ToString::to_string).collect(),
        notified: r.notified.iter().map(ToString::to_string).collect(),
        consumers: consumers.iter().filter(|c| c.key == key).map(consumer).collect(),
        instructions,
        last_error: r.last_error.clone(),
        updated_at: r.updated_at,
        version: r.version,
    }
}

/// Adds each key's consumers and a project token's rotation status to the inventory.
pub(crate) async fn annotate(s: &ApiState, who: &Principal, list: &mut dto::KeyList) -> Result<(), ApiError> {
    let consumers = s.app.list_consumers(who).await?;
    let rotations = s.app.store.keys().list_token_rotations().await?;
    for key in &mut list.keys {
        if let Some(r) = &key.key_ref {
            key.consumers = consumers.iter().filter(|c| c.key == *r).map(consumer).collect();
        }
        if key.kind == "project_token" {
            key.rotation_status = rotations.iter().find(|r| Some(r.project.get()) == key.project_id).map(|r| r.status.as_str().to_owned());
        }
    }
    Ok(())
}

fn guided(s: &ApiState) -> Result<&TokenRotations, ApiError> {
    s.token_rotations.as_deref().ok_or_else(|| {
        ApiError::Core(hogwarden_core::Error::Forbidden("Guided project-token rotation is not configured on this deployment.".into()))
    })
}

fn project(raw: &str) -> Result<ProjectId, ApiError> {
    let id: i64 = raw.parse().map_err(|_| ParseError::ProjectId(raw.chars().take(40).collect()))?;
    Ok(ProjectId::new(id)?)
}

#[utoipa::path(get, path = "/api/keys/consumers", tag = "keys",
    responses((status = 200, body = dto::ConsumerList), (status = 403, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn list_consumers(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::ConsumerList>, ApiError> {
    let consumers = s.app.list_consumers(&who).await?;
    Ok(ApiJson(dto::ConsumerList { consumers: consumers.iter().map(consumer).collect() }))
}

#[utoipa::path(post, path = "/api/keys/consumers", tag = "keys", request_body = dto::NewConsumerBody,
    responses((status = 201, body = dto::ConsumerDto, description = "Added"), (status = 200, body = dto::ConsumerDto, description = "Already listed; nothing changed"),
        (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody),
        (status = 409, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn add_consumer(
    State(s): State<ApiState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<dto::NewConsumerBody>,
) -> Result<(StatusCode, ApiJson<dto::ConsumerDto>), ApiError> {
    let form = NewConsumer { key: body.key, kind: body.kind, name: body.name, owner: body.owner };
    let keys = s.inventory.as_deref().map(hogwarden_core::usecases::KeyInventory::project_keys);
    let (added, created) = s.app.add_consumer(&who, form, keys).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, ApiJson(consumer(&added))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct RemoveParams {
    /// The version the caller saw; a newer one answers 409.
    version: Option<u64>,
}

#[utoipa::path(delete, path = "/api/keys/consumers/{id}", tag = "keys",
    params(("id" = String, Path, description = "The consumer's id"), RemoveParams),
    responses((status = 200, body = dto::ConsumerDto, description = "Removed (or already removed)"), (status = 400, body = dto::ErrorBody),
        (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn remove_consumer(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    params: Result<Query<RemoveParams>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<dto::ConsumerDto>, ApiError> {
    let Query(params) = params?;
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ParseError::Id(id.chars().take(40).collect()).into());
    }
    let removed = s.app.remove_consumer(&who, &id, params.version).await?;
    Ok(ApiJson(consumer(&removed)))
}

#[utoipa::path(get, path = "/api/keys/rotations", tag = "keys",
    responses((status = 200, body = dto::TokenRotationList), (status = 403, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn list_token_rotations(
    State(s): State<ApiState>,
    Caller(who): Caller,
) -> Result<ApiJson<dto::TokenRotationList>, ApiError> {
    let rotations = guided(&s)?.list(&who).await?;
    let consumers = s.app.list_consumers(&who).await?;
    Ok(ApiJson(dto::TokenRotationList { rotations: rotations.iter().map(|r| rotation(r, &consumers)).collect() }))
}

#[utoipa::path(get, path = "/api/keys/rotations/{project}", tag = "keys",
    params(("project" = i64, Path, description = "The PostHog project id")),
    responses((status = 200, body = dto::TokenRotationDto), (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody),
        (status = 404, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn get_token_rotation(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(raw): Path<String>,
) -> Result<ApiJson<dto::TokenRotationDto>, ApiError> {
    let project = project(&raw)?;
    let found = guided(&s)?
        .get(&who, project)
        .await?
        .ok_or_else(|| hogwarden_core::Error::NotFound(format!("a guided token rotation of project {project}")))?;
    let consumers = s.app.list_consumers(&who).await?;
    Ok(ApiJson(rotation(&found, &consumers)))
}

#[utoipa::path(post, path = "/api/keys/rotations/{project}", tag = "keys", request_body = dto::StartTokenRotationBody,
    params(("project" = i64, Path, description = "The PostHog project id")),
    responses((status = 201, body = dto::TokenRotationDto, description = "Opened; consumers warned"),
        (status = 200, body = dto::TokenRotationDto, description = "One was already open: that one"),
        (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody),
        (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn start_token_rotation(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<dto::StartTokenRotationBody>,
) -> Result<(StatusCode, ApiJson<dto::TokenRotationDto>), ApiError> {
    let project = project(&raw)?;
    let (record, opened) = guided(&s)?.start(&who, project, body.reason.as_deref().unwrap_or_default()).await?;
    let consumers = s.app.list_consumers(&who).await?;
    Ok((if opened { StatusCode::CREATED } else { StatusCode::OK }, ApiJson(rotation(&record, &consumers))))
}

#[utoipa::path(post, path = "/api/keys/rotations/{project}/check", tag = "keys",
    params(("project" = i64, Path, description = "The PostHog project id")),
    responses((status = 200, body = dto::TokenRotationDto, description = "Checked; the steps that could run ran"),
        (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody),
        (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn check_token_rotation(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(raw): Path<String>,
) -> Result<ApiJson<dto::TokenRotationDto>, ApiError> {
    let project = project(&raw)?;
    let record = guided(&s)?.check(&who, project).await?;
    let consumers = s.app.list_consumers(&who).await?;
    Ok(ApiJson(rotation(&record, &consumers)))
}
