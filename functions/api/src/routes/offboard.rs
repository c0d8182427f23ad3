//! Offboarding: preview the departing member's objects, ask, approve once, watch the steps.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use hogwarden_api_types as dto;
use hogwarden_core::model::Decision;
use hogwarden_core::offboard::{OffboardStatus, Offboarding, StepAction};
use hogwarden_core::ports::OwnedObject;
use hogwarden_core::types::{Email, Justification, Principal, RequestId, Role, Ticket};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};

fn object(o: &OwnedObject) -> dto::OwnedObjectDto {
    dto::OwnedObjectDto {
        kind: o.kind.as_str().to_owned(),
        project_id: o.project.get(),
        key: o.key.clone(),
        name: o.name.clone(),
        private: o.private,
    }
}

fn decision(d: &Decision) -> dto::DecisionDto {
    dto::DecisionDto { by: d.by.to_string(), at: d.at, reason: d.reason.clone() }
}

pub(crate) fn offboarding(o: &Offboarding, who: &Principal) -> dto::OffboardingDto {
    let can_decide = o.status == OffboardStatus::Pending
        && who.has(Role::Approver)
        && o.requester != who.email
        && o.subject != who.email
        && !o.approvals.iter().any(|a| a.by == who.email);
    dto::OffboardingDto {
        id: o.id.to_string(),
        requester: o.requester.to_string(),
        email: o.subject.to_string(),
        new_owner: o.new_owner.to_string(),
        reason: o.justification.as_str().to_owned(),
        ticket: o.ticket.as_ref().map(|t| t.as_str().to_owned()),
        status: o.status.as_str().to_owned(),
        approvals_required: o.approvals_required,
        approvals: o.approvals.iter().map(decision).collect(),
        denial: o.denial.as_ref().map(decision),
        steps: o
            .steps
            .iter()
            .map(|s| dto::OffboardStepDto {
                kind: match s.action {
                    StepAction::HandOver { .. } => "hand_over",
                    StepAction::RemoveFromProject { .. } => "remove_from_project",
                    StepAction::RemoveFromOrg => "remove_from_org",
                }
                .to_owned(),
                description: s.action.describe(&o.new_owner),
                status: s.status.as_str().to_owned(),
                at: s.at,
                read_back: s.read_back.clone(),
                already_in_place: s.already_in_place,
                error: s.error.clone(),
                object: match &s.action {
                    StepAction::HandOver { object: o } => Some(object(o)),
                    _ => None,
                },
            })
            .collect(),
        warnings: o.warnings.clone(),
        failure: o.failure.clone(),
        created_at: o.created_at,
        updated_at: o.updated_at,
        can_decide,
    }
}

fn email(raw: &str, field: &str) -> Result<Email, ApiError> {
    Email::parse(raw).map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
}

#[utoipa::path(post, path = "/api/offboardings/preview", tag = "offboarding", request_body = dto::OffboardPreviewBody,
    responses((status = 200, body = dto::OffboardPreviewDto, description = "The member's objects, projects, the steps and the warnings"),
              (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody),
              (status = 422, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn preview_offboarding(
    State(s): State<ApiState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<dto::OffboardPreviewBody>,
) -> Result<ApiJson<dto::OffboardPreviewDto>, ApiError> {
    let subject = email(&body.email, "email")?;
    let new_owner = email(&body.new_owner, "new_owner")?;
    let p = s.app.offboard_preview(&who, &subject, &new_owner).await?;
    Ok(ApiJson(preview_dto(p)))
}

/// The preview as the API shows it (also for an access review's removal).
pub(crate) fn preview_dto(p: hogwarden_core::usecases::OffboardPreview) -> dto::OffboardPreviewDto {
    dto::OffboardPreviewDto {
        email: p.subject.to_string(),
        name: p.subject_name,
        org_level: p.subject_level.as_str().to_owned(),
        new_owner: p.new_owner.to_string(),
        objects: p.objects.iter().map(object).collect(),
        projects: p
            .projects
            .iter()
            .map(|(id, name, role)| dto::OffboardProjectDto { project_id: id.get(), name: name.clone(), role: role.as_str().to_owned() })
            .collect(),
        steps: p.steps.iter().map(|a| a.describe(&p.new_owner)).collect(),
        warnings: p.warnings,
    }
}

#[utoipa::path(post, path = "/api/offboardings", tag = "offboarding", request_body = dto::CreateOffboarding,
    responses((status = 201, body = dto::OffboardingDto, description = "Recorded; it waits for one approval per policy"),
              (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody),
              (status = 409, body = dto::ErrorBody), (status = 422, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn create_offboarding(
    State(s): State<ApiState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<dto::CreateOffboarding>,
) -> Result<(StatusCode, ApiJson<dto::OffboardingDto>), ApiError> {
    let subject = email(&body.email, "email")?;
    let new_owner = email(&body.new_owner, "new_owner")?;
    let reason = Justification::parse(&body.reason)?;
    let ticket = body.ticket.as_deref().filter(|t| !t.trim().is_empty()).map(Ticket::parse).transpose()?;
    let created = s.app.offboard_request(&who, &subject, &new_owner, reason, ticket).await?;
    Ok((StatusCode::CREATED, ApiJson(offboarding(&created, &who))))
}

#[utoipa::path(get, path = "/api/offboardings", tag = "offboarding",
    responses((status = 200, body = dto::OffboardingList, description = "Every offboarding, newest first"), (status = 403, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn list_offboardings(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::OffboardingList>, ApiError> {
    let all = s.app.offboardings(&who).await?;
    Ok(ApiJson(dto::OffboardingList { offboardings: all.iter().map(|o| offboarding(o, &who)).collect() }))
}

#[utoipa::path(get, path = "/api/offboardings/{id}", tag = "offboarding", params(("id" = String, Path, description = "Offboarding id")),
    responses((status = 200, body = dto::OffboardingDto, description = "The request and each step's status"),
              (status = 400, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn get_offboarding(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<dto::OffboardingDto>, ApiError> {
    let record = s.app.offboarding(&who, RequestId::parse(&id)?).await?;
    Ok(ApiJson(offboarding(&record, &who)))
}

#[utoipa::path(post, path = "/api/offboardings/{id}/approve", tag = "offboarding", request_body = dto::ApproveBody,
    params(("id" = String, Path, description = "Offboarding id")),
    responses((status = 200, body = dto::OffboardingDto, description = "Approved; with enough approvals the steps ran (or resume later)"),
              (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody),
              (status = 409, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn approve_offboarding(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<ApiJson<dto::OffboardingDto>, ApiError> {
    // The body is optional: an empty one means "no comment".
    let body: dto::ApproveBody = if body.iter().all(u8::is_ascii_whitespace) {
        dto::ApproveBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("The body does not match the expected shape: {e}")))?
    };
    let reason = body.comment;
    let record = s.app.offboard_approve(&who, RequestId::parse(&id)?, reason).await?;
    Ok(ApiJson(offboarding(&record, &who)))
}

#[utoipa::path(post, path = "/api/offboardings/{id}/deny", tag = "offboarding", request_body = dto::DenyBody,
    params(("id" = String, Path, description = "Offboarding id")),
    responses((status = 200, body = dto::OffboardingDto), (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody),
              (status = 404, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn deny_offboarding(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<dto::DenyBody>,
) -> Result<ApiJson<dto::OffboardingDto>, ApiError> {
    let reason = Some(Justification::parse(&body.reason)?.as_str().to_owned());
    let record = s.app.offboard_deny(&who, RequestId::parse(&id)?, reason).await?;
    Ok(ApiJson(offboarding(&record, &who)))
}

#[utoipa::path(post, path = "/api/offboardings/{id}/resume", tag = "offboarding", params(("id" = String, Path, description = "Offboarding id")),
    responses((status = 200, body = dto::OffboardingDto, description = "The pending steps ran from where they stopped; finished steps are not repeated"),
              (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody),
              (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn resume_offboarding(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<dto::OffboardingDto>, ApiError> {
    let id = RequestId::parse(&id)?;
    if !who.has(Role::Approver) {
        return Err(hogwarden_core::Error::Forbidden("Resuming an offboarding needs the approver or admin role.".into()).into());
    }
    s.app.offboarding(&who, id).await?;
    let record = s.app.offboard_run(id).await?;
    Ok(ApiJson(offboarding(&record, &who)))
}
