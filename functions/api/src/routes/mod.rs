//! Route tables. Handlers are thin: extract, parse into domain types, call one use
//! case, shape the answer.

mod access;
mod audit;
mod bulk;
mod bulk_sets;
mod consumers;
mod diagnose;
mod key_alerts;
mod meta;
mod offboard;
mod requests;
mod reviews;
mod revoke;
mod sso;
mod webhooks;

use axum::Router;
use axum::routing::{get, post};

use crate::ApiState;
use crate::error::ApiError;

pub(crate) use access::{__path_access_overview, __path_list_keys};
pub(crate) use audit::__path_verify_audit;
pub(crate) use audit::{__path_export_audit, __path_list_audit};
pub(crate) use bulk::__path_plan as __path_bulk_plan;
pub(crate) use bulk_sets::{__path_apply as __path_bulk_apply, __path_get_set as __path_bulk_get_set, __path_submit as __path_bulk_submit};
pub(crate) use consumers::{
    __path_add_consumer, __path_check_token_rotation, __path_get_token_rotation, __path_list_consumers, __path_list_token_rotations,
    __path_remove_consumer, __path_start_token_rotation,
};
pub(crate) use diagnose::__path_diagnose;
pub(crate) use key_alerts::{__path_alert_history, __path_import_personal_keys, __path_key_status, __path_personal_keys};
pub(crate) use meta::{__path_get_me, __path_get_policy, __path_list_projects};
pub(crate) use offboard::{
    __path_approve_offboarding, __path_create_offboarding, __path_deny_offboarding, __path_get_offboarding, __path_list_offboardings,
    __path_preview_offboarding, __path_resume_offboarding,
};
pub(crate) use requests::{
    __path_approve, __path_create_request, __path_deny, __path_export_request, __path_extend_grant, __path_get_request, __path_inbox,
    __path_list_grants, __path_my_requests,
};
pub(crate) use reviews::{
    __path_adopt_drift, __path_bulk_decide, __path_check_drift, __path_close_campaign, __path_decide_item, __path_drift_report,
    __path_evidence, __path_evidence_csv, __path_evidence_markdown, __path_get_campaign, __path_list_campaigns, __path_open_campaign,
    __path_reassign_item, __path_removal_preview, __path_revert_drift, __path_review_queue,
};
pub(crate) use revoke::__path_revoke_grant;
pub(crate) use sso::{__path_sso_apply, __path_sso_plan, __path_sso_rules, __path_sso_sign_in};
pub(crate) use webhooks::{__path_receive_webhook, __path_replace_service_key};

pub(crate) fn grants(state: ApiState) -> Router {
    Router::new()
        .route("/api/requests", post(requests::create_request).get(requests::my_requests))
        .route("/api/requests/{id}", get(requests::get_request))
        .route("/api/requests/{id}/export", get(requests::export_request))
        .route("/api/requests/{id}/approve", post(requests::approve))
        .route("/api/requests/{id}/deny", post(requests::deny))
        .route("/api/inbox", get(requests::inbox))
        .route("/api/bulk/plan", post(bulk::plan).layer(axum::extract::DefaultBodyLimit::max(bulk::MAX_BULK_BYTES)))
        .route("/api/bulk/sets", post(bulk_sets::submit).layer(axum::extract::DefaultBodyLimit::max(bulk::MAX_BULK_BYTES)))
        .route("/api/bulk/sets/{id}", get(bulk_sets::get_set))
        .route("/api/bulk/sets/{id}/apply", post(bulk_sets::apply))
        .route("/api/grants", get(requests::list_grants))
        .route("/api/grants/{id}/extend", post(requests::extend_grant))
        .with_state(state)
}

/// Offboarding a departing member, and SSO rules (served by the grants Lambda).
pub(crate) fn offboarding(state: ApiState) -> Router {
    Router::new()
        .route("/api/offboardings/preview", post(offboard::preview_offboarding))
        .route("/api/offboardings", post(offboard::create_offboarding).get(offboard::list_offboardings))
        .route("/api/offboardings/{id}", get(offboard::get_offboarding))
        .route("/api/offboardings/{id}/approve", post(offboard::approve_offboarding))
        .route("/api/offboardings/{id}/deny", post(offboard::deny_offboarding))
        .route("/api/offboardings/{id}/resume", post(offboard::resume_offboarding))
        .route("/api/sso/rules", get(sso::sso_rules))
        .route("/api/sso/plan", post(sso::sso_plan))
        .route("/api/sso/apply", post(sso::sso_apply))
        .route("/api/sso/sign-in", post(sso::sso_sign_in))
        .with_state(state)
}

pub(crate) fn audit(state: ApiState) -> Router {
    Router::new()
        .route("/api/audit", get(audit::list_audit))
        .route("/api/audit/verify", get(audit::verify_audit))
        .route("/api/audit/export", get(audit::export_audit))
        .with_state(state)
}

pub(crate) fn meta(state: ApiState) -> Router {
    Router::new()
        .route("/api/me", get(meta::get_me))
        .route("/api/policy", get(meta::get_policy))
        .route("/api/projects", get(meta::list_projects))
        .with_state(state)
}

pub(crate) fn reviews(state: ApiState) -> Router {
    Router::new()
        .route("/api/access", get(access::access_overview))
        .route("/api/diagnose", get(diagnose::diagnose))
        .route("/api/reviews", get(reviews::list_campaigns).post(reviews::open_campaign))
        .route("/api/reviews/{id}", get(reviews::get_campaign))
        .route("/api/reviews/{id}/close", post(reviews::close_campaign))
        .route("/api/reviews/{id}/decisions", post(reviews::bulk_decide))
        .route("/api/reviews/{id}/items/{item}/decision", post(reviews::decide_item))
        .route("/api/reviews/{id}/items/{item}/reassign", post(reviews::reassign_item))
        .route("/api/reviews/{id}/items/{item}/removal", get(reviews::removal_preview))
        .route("/api/reviews/{id}/evidence", get(reviews::evidence))
        .route("/api/reviews/{id}/evidence/csv", get(reviews::evidence_csv))
        .route("/api/reviews/{id}/evidence/markdown", get(reviews::evidence_markdown))
        .route("/api/review-queue", get(reviews::review_queue))
        .route("/api/drift", get(reviews::drift_report))
        .route("/api/drift/check", post(reviews::check_drift))
        .route("/api/drift/{id}/adopt", post(reviews::adopt_drift))
        .route("/api/drift/{id}/revert", post(reviews::revert_drift))
        .with_state(state)
}

pub(crate) fn keys(state: ApiState) -> Router {
    Router::new()
        .route("/api/keys", get(access::list_keys))
        .route("/api/keys/service", axum::routing::put(webhooks::replace_service_key))
        .route("/webhooks/{provider}", post(webhooks::receive_webhook))
        .route("/api/keys/consumers", get(consumers::list_consumers).post(consumers::add_consumer))
        .route("/api/keys/consumers/{id}", axum::routing::delete(consumers::remove_consumer))
        .route("/api/keys/rotations", get(consumers::list_token_rotations))
        .route("/api/keys/rotations/{project}", get(consumers::get_token_rotation).post(consumers::start_token_rotation))
        .route("/api/keys/rotations/{project}/check", post(consumers::check_token_rotation))
        // keys-alerts
        .route("/api/keys/alerts", get(key_alerts::alert_history))
        .route("/api/keys/status", get(key_alerts::key_status))
        .route("/api/keys/personal", get(key_alerts::personal_keys))
        .route(
            "/api/keys/personal/import",
            post(key_alerts::import_personal_keys).layer(axum::extract::DefaultBodyLimit::max(key_alerts::MAX_IMPORT_BYTES)),
        )
        .with_state(state)
}

pub(crate) fn reverts(state: ApiState) -> Router {
    Router::new().route("/api/grants/{id}/revoke", post(revoke::revoke_grant)).with_state(state)
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::NoRoute
}
