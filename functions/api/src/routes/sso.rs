//! SSO attribute mapping: the rules, the sync (plan first, apply on confirm), and the
//! rules applied to a person when they sign in.

use axum::extract::State;
use hogwarden_api_types as dto;
use hogwarden_core::sso::claims_from_json;
use hogwarden_core::types::Email;
use hogwarden_core::usecases::{SsoOutcome, SsoPerson, SsoPlan};

use crate::ApiState;
use crate::auth::{Caller, CallerClaims};
use crate::error::{ApiError, ApiJson};

fn people(list: &[dto::SsoPersonDto]) -> Result<Vec<SsoPerson>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let email = Email::parse(&p.email).map_err(|e| ApiError::BadRequest(format!("people[{i}].email: {e}")))?;
            Ok(SsoPerson { email, claims: claims_from_json(p.claims.iter()) })
        })
        .collect()
}

fn plan(p: &SsoPlan, applied: Vec<String>) -> dto::SsoPlanDto {
    use hogwarden_core::usecases::SsoAction as A;
    let level = |l: &Option<hogwarden_core::model::AccessLevel>| l.as_ref().map(|l| l.describe().to_owned());
    dto::SsoPlanDto {
        changes: p.count(A::Change),
        no_ops: p.count(A::NoOp),
        exceptions: p.count(A::Exception),
        errors: p.count(A::Error),
        items: p
            .items
            .iter()
            .map(|i| dto::SsoItemDto {
                email: i.email.to_string(),
                target: i.target.clone(),
                project_id: i.project.map(|p| p.get()),
                current: level(&i.current),
                desired: level(&i.desired),
                last_applied: level(&i.last_applied),
                action: i.action.as_str().to_owned(),
                rule: i.rule.clone(),
                message: i.message.clone(),
            })
            .collect(),
        fingerprint: p.fingerprint.clone(),
        applied_requests: applied,
    }
}

fn outcome(o: &SsoOutcome) -> dto::SsoPlanDto {
    plan(&o.plan, o.requests.iter().map(|r| r.id.to_string()).collect())
}

#[utoipa::path(get, path = "/api/sso/rules", tag = "sso",
    responses((status = 200, body = dto::SsoRulesDto, description = "The SSO rules in force, first match wins"), (status = 401, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn sso_rules(State(s): State<ApiState>, Caller(_who): Caller) -> Result<ApiJson<dto::SsoRulesDto>, ApiError> {
    let rules = s
        .app
        .policy
        .sso
        .rules
        .iter()
        .enumerate()
        .map(|(index, r)| dto::SsoRuleDto {
            index,
            claim: r.claim.clone(),
            equals: r.equals.clone(),
            role: r.role.clone(),
            projects: r.projects.clone(),
            limited: r.limited,
            description: r.describe(),
        })
        .collect();
    Ok(ApiJson(dto::SsoRulesDto { rules }))
}

#[utoipa::path(post, path = "/api/sso/plan", tag = "sso", request_body = dto::SsoPlanBody,
    responses((status = 200, body = dto::SsoPlanDto, description = "Each person's changes, no-ops and exceptions; nothing is written"),
              (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 422, body = dto::ErrorBody),
              (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn sso_plan(
    State(s): State<ApiState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<dto::SsoPlanBody>,
) -> Result<ApiJson<dto::SsoPlanDto>, ApiError> {
    let p = s.app.sso_plan(&who, &people(&body.people)?).await?;
    Ok(ApiJson(plan(&p, Vec::new())))
}

#[utoipa::path(post, path = "/api/sso/apply", tag = "sso", request_body = dto::SsoApplyBody,
    responses((status = 200, body = dto::SsoPlanDto, description = "The changes applied (read back); exceptions left alone and audited"),
              (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody),
              (status = 422, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn sso_apply(
    State(s): State<ApiState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<dto::SsoApplyBody>,
) -> Result<ApiJson<dto::SsoPlanDto>, ApiError> {
    let o = s.app.sso_apply(&who, &people(&body.people)?, body.fingerprint.trim()).await?;
    Ok(ApiJson(outcome(&o)))
}

#[utoipa::path(post, path = "/api/sso/sign-in", tag = "sso",
    responses((status = 200, body = dto::SsoPlanDto, description = "The rules applied to the caller, from the claims of their token"),
              (status = 401, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn sso_sign_in(
    State(s): State<ApiState>,
    CallerClaims(who, claims): CallerClaims,
) -> Result<ApiJson<dto::SsoPlanDto>, ApiError> {
    let person = SsoPerson { email: who.email.clone(), claims: claims_from_json(claims.iter()) };
    let o = s.app.sso_sign_in(person).await?;
    Ok(ApiJson(outcome(&o)))
}
