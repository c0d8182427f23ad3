//! Who has what (the reviews Lambda) and the keys Hogwarden holds (the key-rotation
//! Lambda). Admins only.

use axum::extract::State;
use hogwarden_api_types as dto;

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};
use crate::{ApiState, convert};

#[utoipa::path(get, path = "/api/access", tag = "reviews",
    responses((status = 200, body = dto::AccessOverviewDto), (status = 403, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn access_overview(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::AccessOverviewDto>, ApiError> {
    let overview = s.app.access_overview(&who).await?;
    Ok(ApiJson(convert::access_overview(&overview, s.app.clock.now())))
}

#[utoipa::path(get, path = "/api/keys", tag = "keys",
    responses((status = 200, body = dto::KeyList), (status = 403, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn list_keys(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::KeyList>, ApiError> {
    // keys-alerts: the pause shows with the inventory.
    let paused = s.app.writes_paused().await?.map(super::key_alerts::paused_dto);
    if let Some(inventory) = &s.inventory {
        let mut list = convert::key_inventory(inventory.list(&who).await?);
        super::consumers::annotate(&s, &who, &mut list).await?;
        list.writes_paused = paused;
        return Ok(ApiJson(list));
    }
    let check = s.app.service_key_status(&who).await?;
    let now = s.app.clock.now();
    let service = hogwarden_core::usecases::InventoryKey {
        fingerprint: Some(check.fingerprint),
        accepted: Some(check.accepted),
        key_ref: Some(hogwarden_core::consumers::KeyRef::ServiceKey),
        ..hogwarden_core::usecases::InventoryKey::new("Hogwarden service key".into(), "personal_api_key")
    };
    let mut list = convert::key_inventory(hogwarden_core::usecases::Inventory { keys: vec![service], notes: Vec::new(), checked_at: now });
    super::consumers::annotate(&s, &who, &mut list).await?;
    list.writes_paused = paused;
    Ok(ApiJson(list))
}
