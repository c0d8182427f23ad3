//! The OpenAPI document, generated from the handlers' annotations and the shared
//! types, served at `/api/openapi.json`.

use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::*;
use hogwarden_api_types as dto;

#[derive(OpenApi, Debug)]
#[openapi(
    info(title = "Hogwarden API", description = "Self-service, audited access management for PostHog."),
    paths(bulk_plan, bulk_submit, bulk_get_set, bulk_apply, create_request, my_requests, get_request, export_request, approve, deny, inbox, list_grants, extend_grant, revoke_grant, list_audit, verify_audit, export_audit, get_me, get_policy, list_projects, access_overview, list_keys, diagnose,
        list_campaigns, open_campaign, get_campaign, close_campaign, decide_item, bulk_decide, reassign_item, review_queue, evidence,
        evidence_csv, evidence_markdown, drift_report, check_drift, adopt_drift, revert_drift, receive_webhook, replace_service_key,
        preview_offboarding, create_offboarding, list_offboardings, get_offboarding, approve_offboarding, deny_offboarding, resume_offboarding,
        sso_rules, sso_plan, sso_apply, sso_sign_in,
        list_consumers, add_consumer, remove_consumer, list_token_rotations, get_token_rotation, start_token_rotation, check_token_rotation,
        alert_history, key_status, personal_keys, import_personal_keys, removal_preview),
    components(schemas(dto::ErrorBody, dto::ErrorDetail, dto::ChangeDto, dto::CreateRequest, dto::ApproveBody, dto::DenyBody, dto::DecisionDto,
        dto::RequestDto, dto::GrantDto, dto::RequestList, dto::GrantList, dto::AuditEntryDto, dto::VerificationDto, dto::AuditList,
        dto::PolicyDto, dto::MaxDurationsDto, dto::NeedsApprovalDto, dto::MeDto, dto::ProjectDto, dto::ProjectList, dto::AccessOverviewDto,
        dto::MemberAccessDto, dto::ProjectAccessDto, dto::TemporaryDto, dto::KeyList, dto::KeyDto,
        dto::ExtensionDto, dto::ExtendBody, dto::ChecklistDto,
        dto::BulkPlanBody, dto::BulkPlanDto, dto::BulkPlanItemDto, dto::BulkSubmitBody, dto::BulkSetDto, dto::BulkItemDto, dto::DiagnosisDto, dto::DiagnosisCheckDto,
        dto::AccessSummaryDto, dto::CampaignCountsDto, dto::CampaignDto, dto::CampaignList, dto::ReviewItemDto, dto::CampaignDetail,
        dto::ReviewQueueDto, dto::OpenCampaignBody, dto::DecideBody, dto::BulkDecideBody, dto::RefusedItemDto, dto::BulkDecideResult,
        dto::ReassignBody, dto::EvidenceDto, dto::DriftFindingDto, dto::DriftReportDto,
        dto::AlertReportDto, dto::LeakActionDto, dto::ServiceKeyBody,
        dto::OffboardPreviewBody, dto::CreateOffboarding, dto::OwnedObjectDto, dto::OffboardProjectDto, dto::OffboardPreviewDto,
        dto::OffboardStepDto, dto::OffboardingDto, dto::OffboardingList,
        dto::SsoRuleDto, dto::SsoRulesDto, dto::SsoPersonDto, dto::SsoPlanBody, dto::SsoApplyBody, dto::SsoItemDto, dto::SsoPlanDto,
        dto::ConsumerDto, dto::ConsumerList, dto::NewConsumerBody, dto::TokenStepDto, dto::TokenRotationDto, dto::TokenRotationList,
        dto::StartTokenRotationBody,
        dto::AlertDto, dto::AlertPageDto, dto::WritesPausedDto, dto::KeyStatusDto, dto::PersonalKeyDto, dto::PersonalKeyListDto, dto::ImportReportDto)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub(crate) fn routes() -> Router {
    Router::new().route("/api/openapi.json", get(|| async { axum::Json(ApiDoc::openapi()) }))
}
