//! Access review campaigns, the reviewer's queue, evidence, and drift (the reviews
//! Lambda). Parsing happens here; every rule lives in the use cases.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hogwarden_api_types as dto;
use hogwarden_core::model::{AccessLevel, AccessTarget};
use hogwarden_core::reviews::{self, Campaign, CampaignId, ClosePolicy, DriftFinding, ReviewItem, Verdict};
use hogwarden_core::types::Email;
use hogwarden_core::usecases::DriftReport;

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};

fn level(l: Option<&AccessLevel>) -> String {
    l.map_or("none", AccessLevel::describe).to_owned()
}

fn target(t: AccessTarget) -> (String, Option<i64>) {
    match t {
        AccessTarget::Org => ("organization".into(), None),
        AccessTarget::Project(p) => ("project".into(), Some(p.get())),
    }
}

fn emails(list: &[Email]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

fn campaign_dto(c: &Campaign, items: Option<&[ReviewItem]>) -> dto::CampaignDto {
    let counts = items.map(|items| {
        let verdict = |i: &ReviewItem| i.decision.as_ref().map(|d| d.verdict);
        let needs_change = |i: &&ReviewItem| verdict(i).is_some_and(|v| i.needs_remediation(&v));
        dto::CampaignCountsDto {
            open: items.iter().filter(|i| i.is_open()).count(),
            kept: items.iter().filter(|i| verdict(i) == Some(Verdict::Keep)).count(),
            revoked: items.iter().filter(|i| verdict(i) == Some(Verdict::Revoke)).count(),
            downgraded: items.iter().filter(|i| matches!(verdict(i), Some(Verdict::Downgrade(_)))).count(),
            skipped: items.iter().filter(|i| i.skipped).count(),
            applied: items
                .iter()
                .filter(needs_change)
                .filter(|i| i.remediation.as_ref().is_some_and(|r| r.status == reviews::RemediationStatus::Applied))
                .count(),
            not_applied: items
                .iter()
                .filter(needs_change)
                .filter(|i| i.remediation.as_ref().is_none_or(|r| r.status != reviews::RemediationStatus::Applied))
                .count(),
        }
    });
    let s = &c.summary;
    dto::CampaignDto {
        id: c.id.to_string(),
        title: c.title.clone(),
        status: c.status.as_str().into(),
        opened_by: c.opened_by.to_string(),
        opened_at: c.opened_at,
        due_at: c.due_at,
        close_policy: c.close_policy.as_str().into(),
        closed_at: c.closed_at,
        item_count: c.item_count,
        summary: dto::AccessSummaryDto {
            organization: s.organization.clone(),
            total_members: s.total_members,
            owners: emails(&s.owners),
            admins: emails(&s.admins),
            members: emails(&s.members),
            viewers: emails(&s.viewers),
        },
        counts,
    }
}

fn item_dto(i: &ReviewItem) -> dto::ReviewItemDto {
    let (target, project_id) = target(i.target);
    let d = i.decision.as_ref();
    let r = i.remediation.as_ref();
    dto::ReviewItemDto {
        campaign: i.campaign.to_string(),
        id: i.id.clone(),
        person: i.person.to_string(),
        name: i.name.clone(),
        target,
        project_id,
        project_name: i.project_name.clone(),
        access: i.access.describe().into(),
        last_login: i.signals.last_login,
        is_2fa_enabled: i.signals.is_2fa_enabled,
        joined_at: i.signals.joined_at,
        through_hogwarden: i.signals.through_hogwarden,
        suggestions: i.suggestions.iter().map(|s| s.as_str().to_owned()).collect(),
        reviewer: i.reviewer.as_ref().map(ToString::to_string),
        decision: d.map(|d| d.verdict.as_str().to_owned()),
        downgrade_to: d.and_then(|d| match &d.verdict {
            Verdict::Downgrade(l) => Some(l.describe().to_owned()),
            _ => None,
        }),
        reason: d.and_then(|d| d.reason.clone()),
        decided_by: d.map(|d| d.by.to_string()),
        decided_at: d.map(|d| d.at),
        skipped: i.skipped,
        remediation: r.map(|r| r.status.as_str().to_owned()),
        request_id: r.map(|r| r.request_id.to_string()),
        applied_at: r.and_then(|r| r.applied_at),
        remediation_error: r.and_then(|r| r.error.clone()),
        offboarding: r.is_some_and(|r| r.offboarding),
    }
}

fn finding_dto(f: &DriftFinding) -> dto::DriftFindingDto {
    let (t, project_id) = target(f.target);
    dto::DriftFindingDto {
        id: f.id.clone(),
        person: f.person.to_string(),
        target: t,
        project_id,
        kind: f.kind.as_str().into(),
        expected: level(f.expected.as_ref()),
        found: level(f.found.as_ref()),
        changed_by: f.changed_by.as_ref().and_then(|c| c.actor.as_ref().map(ToString::to_string)),
        changed_at: f.changed_by.as_ref().map(|c| c.at),
        detected_at: f.detected_at,
        status: match f.status {
            reviews::FindingStatus::Open => "open".into(),
            reviews::FindingStatus::Reverting => "reverting".into(),
        },
        revert_request: f.revert_request.map(|r| r.to_string()),
    }
}

fn drift_dto(r: &DriftReport) -> dto::DriftReportDto {
    dto::DriftReportDto {
        checked_at: r.checked_at,
        baseline_at: r.baseline_at,
        baseline_taken: r.baseline_taken,
        findings: r.findings.iter().map(finding_dto).collect(),
    }
}

fn campaign_id(raw: &str) -> Result<CampaignId, ApiError> {
    Ok(CampaignId::parse(raw)?)
}

fn verdict(item: &ReviewItem, decision: &str, to: Option<&str>) -> Result<Verdict, ApiError> {
    match decision.trim() {
        "keep" => Ok(Verdict::Keep),
        "revoke" => Ok(Verdict::Revoke),
        "downgrade" => {
            let to = to.ok_or_else(|| ApiError::BadRequest("A downgrade needs 'to': the level to go down to.".into()))?;
            Ok(Verdict::Downgrade(reviews::parse_level(item.target, to)?))
        }
        other => Err(ApiError::BadRequest(format!("'{other}' is not a decision: use 'keep', 'revoke' or 'downgrade'"))),
    }
}

#[utoipa::path(get, path = "/api/reviews", tag = "reviews",
    responses((status = 200, body = dto::CampaignList), (status = 403, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn list_campaigns(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::CampaignList>, ApiError> {
    let campaigns = s.app.list_campaigns(&who).await?;
    Ok(ApiJson(dto::CampaignList { campaigns: campaigns.iter().map(|c| campaign_dto(c, None)).collect() }))
}

#[utoipa::path(post, path = "/api/reviews", tag = "reviews", request_body = dto::OpenCampaignBody,
    responses((status = 201, body = dto::CampaignDetail), (status = 200, body = dto::CampaignDetail, description = "It was already open"),
        (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn open_campaign(
    State(s): State<ApiState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<dto::OpenCampaignBody>,
) -> Result<(StatusCode, ApiJson<dto::CampaignDetail>), ApiError> {
    let id = body.id.as_deref().map(campaign_id).transpose()?;
    let close_policy = body.close_policy.as_deref().map(ClosePolicy::parse).transpose()?;
    let (campaign, created) = s.app.open_campaign(&who, id, close_policy).await?;
    let (campaign, items) = s.app.campaign(&who, &campaign.id).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        ApiJson(dto::CampaignDetail { campaign: campaign_dto(&campaign, Some(&items)), items: items.iter().map(item_dto).collect() }),
    ))
}

#[utoipa::path(get, path = "/api/reviews/{id}", tag = "reviews",
    responses((status = 200, body = dto::CampaignDetail), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn get_campaign(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<dto::CampaignDetail>, ApiError> {
    let (campaign, items) = s.app.campaign(&who, &campaign_id(&id)?).await?;
    Ok(ApiJson(dto::CampaignDetail { campaign: campaign_dto(&campaign, Some(&items)), items: items.iter().map(item_dto).collect() }))
}

#[utoipa::path(post, path = "/api/reviews/{id}/close", tag = "reviews",
    responses((status = 200, body = dto::CampaignDetail), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn close_campaign(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<dto::CampaignDetail>, ApiError> {
    let (campaign, items) = s.app.close_campaign(&who, &campaign_id(&id)?).await?;
    Ok(ApiJson(dto::CampaignDetail { campaign: campaign_dto(&campaign, Some(&items)), items: items.iter().map(item_dto).collect() }))
}

#[utoipa::path(post, path = "/api/reviews/{id}/items/{item}/decision", tag = "reviews", request_body = dto::DecideBody,
    responses((status = 200, body = dto::ReviewItemDto), (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody),
        (status = 404, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody), (status = 422, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn decide_item(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path((id, item)): Path<(String, String)>,
    ApiJson(body): ApiJson<dto::DecideBody>,
) -> Result<ApiJson<dto::ReviewItemDto>, ApiError> {
    let id = campaign_id(&id)?;
    // Who may decide is settled before the body is read against the item (a
    // downgrade's level depends on what the item is about).
    let (_, found) = s.app.item_to_decide(&who, &id, &item).await?;
    let verdict = verdict(&found, &body.decision, body.to.as_deref())?;
    let decided = s.app.decide_item(&who, &id, &item, verdict, body.reason).await?;
    Ok(ApiJson(item_dto(&decided)))
}

#[utoipa::path(post, path = "/api/reviews/{id}/decisions", tag = "reviews", request_body = dto::BulkDecideBody,
    responses((status = 200, body = dto::BulkDecideResult), (status = 400, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn bulk_decide(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<dto::BulkDecideBody>,
) -> Result<ApiJson<dto::BulkDecideResult>, ApiError> {
    let id = campaign_id(&id)?;
    let verdict = match body.decision.trim() {
        "keep" => Verdict::Keep,
        "revoke" => Verdict::Revoke,
        other => return Err(ApiError::BadRequest(format!("'{other}' is not a bulk decision: use 'keep' or 'revoke'"))),
    };
    if body.items.is_empty() || body.items.len() > 500 {
        return Err(ApiError::BadRequest("Name between 1 and 500 items.".into()));
    }
    let mut result = dto::BulkDecideResult { decided: Vec::new(), refused: Vec::new() };
    for item in &body.items {
        match s.app.decide_item(&who, &id, item, verdict, body.reason.clone()).await {
            Ok(done) => result.decided.push(item_dto(&done)),
            Err(e @ (hogwarden_core::Error::Storage(_) | hogwarden_core::Error::Upstream(_))) => return Err(e.into()),
            Err(e) => result.refused.push(dto::RefusedItemDto { item: item.clone(), message: e.to_string() }),
        }
    }
    Ok(ApiJson(result))
}

#[utoipa::path(post, path = "/api/reviews/{id}/items/{item}/reassign", tag = "reviews", request_body = dto::ReassignBody,
    responses((status = 200, body = dto::ReviewItemDto), (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn reassign_item(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path((id, item)): Path<(String, String)>,
    ApiJson(body): ApiJson<dto::ReassignBody>,
) -> Result<ApiJson<dto::ReviewItemDto>, ApiError> {
    let to = Email::parse(&body.reviewer)?;
    let done = s.app.reassign_item(&who, &campaign_id(&id)?, &item, to).await?;
    Ok(ApiJson(item_dto(&done)))
}

#[utoipa::path(get, path = "/api/review-queue", tag = "reviews",
    responses((status = 200, body = dto::ReviewQueueDto)),
    security(("bearer" = [])))]
pub(crate) async fn review_queue(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::ReviewQueueDto>, ApiError> {
    let queue = s.app.review_queue(&who).await?;
    Ok(ApiJson(dto::ReviewQueueDto {
        campaigns: queue
            .iter()
            .map(|(c, items)| dto::CampaignDetail { campaign: campaign_dto(c, None), items: items.iter().map(item_dto).collect() })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/api/reviews/{id}/evidence", tag = "reviews",
    responses((status = 200, body = dto::EvidenceDto), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn evidence(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<dto::EvidenceDto>, ApiError> {
    let e = s.app.campaign_evidence(&who, &campaign_id(&id)?).await?;
    Ok(ApiJson(dto::EvidenceDto { csv: e.csv, markdown: e.markdown, chain: crate::convert::verification(&e.chain) }))
}

#[utoipa::path(get, path = "/api/reviews/{id}/evidence/csv", tag = "reviews",
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn evidence_csv(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = campaign_id(&id)?;
    let e = s.app.campaign_evidence(&who, &id).await?;
    Ok(attachment("text/csv; charset=utf-8", &format!("hogwarden-review-{id}.csv"), e.csv))
}

#[utoipa::path(get, path = "/api/reviews/{id}/evidence/markdown", tag = "reviews",
    responses((status = 200, content_type = "text/markdown", body = String), (status = 403, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn evidence_markdown(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = campaign_id(&id)?;
    let e = s.app.campaign_evidence(&who, &id).await?;
    Ok(attachment("text/markdown; charset=utf-8", &format!("hogwarden-review-{id}.md"), e.markdown))
}

#[utoipa::path(get, path = "/api/drift", tag = "reviews",
    responses((status = 200, body = dto::DriftReportDto), (status = 403, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn drift_report(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::DriftReportDto>, ApiError> {
    Ok(ApiJson(drift_dto(&s.app.drift_report(&who).await?)))
}

#[utoipa::path(post, path = "/api/drift/check", tag = "reviews",
    responses((status = 200, body = dto::DriftReportDto), (status = 403, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn check_drift(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::DriftReportDto>, ApiError> {
    Ok(ApiJson(drift_dto(&s.app.check_drift_now(&who).await?)))
}

#[utoipa::path(post, path = "/api/drift/{id}/adopt", tag = "reviews",
    responses((status = 200, body = dto::DriftFindingDto), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn adopt_drift(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<dto::DriftFindingDto>, ApiError> {
    Ok(ApiJson(finding_dto(&s.app.adopt_drift(&who, &id).await?)))
}

#[utoipa::path(post, path = "/api/drift/{id}/revert", tag = "reviews",
    responses((status = 201, body = dto::RequestDto), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn revert_drift(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, ApiJson<dto::RequestDto>), ApiError> {
    let request = s.app.revert_drift(&who, &id).await?;
    let grants = s.app.store.list_grants_for_request(request.id).await?;
    Ok((StatusCode::CREATED, ApiJson(crate::convert::request(&request, &grants, &who, s.app.clock.now()))))
}

/// A file download: its type, the name the browser saves it under, and its text.
fn attachment(content_type: &'static str, filename: &str, body: String) -> impl IntoResponse + use<> {
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(axum::http::header::CONTENT_TYPE, content_type.to_owned()), (axum::http::header::CONTENT_DISPOSITION, disposition)], body)
}

#[utoipa::path(get, path = "/api/reviews/{id}/items/{item}/removal", tag = "reviews",
    responses((status = 200, body = dto::OffboardPreviewDto,
               description = "What revoking this organization membership would do: the new owner of the person's objects, the steps and the warnings (private insights)"),
              (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody),
              (status = 422, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn removal_preview(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path((id, item)): Path<(String, String)>,
) -> Result<ApiJson<dto::OffboardPreviewDto>, ApiError> {
    let id = campaign_id(&id)?;
    // The same refusal as a decision's for anyone who may not decide the item, so the
    // preview tells nobody else whether the item exists.
    s.app.item_to_decide(&who, &id, &item).await?;
    let p = s.app.review_removal_preview(&who, &id, &item).await?;
    Ok(ApiJson(super::offboard::preview_dto(p)))
}
