//! The browser side of signing in: the token in `sessionStorage` (gone when the tab
//! closes, never in the address), and the OIDC redirect dance, whose pure parts live
//! in [`crate::pkce`].

use crate::api::{self, ApiError};
use crate::config::{BearerToken, OidcConfig};
use crate::pkce::{self, Callback};

const TOKEN: &str = "hogwarden.token";
const VERIFIER: &str = "hogwarden.pkce_verifier";
const STATE: &str = "hogwarden.oidc_state";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn get(key: &str) -> Option<String> {
    storage()?.get_item(key).ok()?
}

fn set(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

fn remove(key: &str) {
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}

pub fn saved_token() -> Option<String> {
    get(TOKEN).filter(|t| !t.is_empty())
}

pub fn save_token(token: &str) {
    set(TOKEN, token);
}

pub fn forget_token() {
    remove(TOKEN);
}

/// 32 bytes from the browser's CSPRNG, as a URL-safe string.
fn random() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    let crypto = web_sys::window().and_then(|w| w.crypto().ok()).ok_or_else(|| ApiError::Network("the browser's crypto".into()))?;
    crypto.get_random_values_with_u8_array(&mut bytes).map_err(|_| ApiError::Network("the browser's crypto".into()))?;
    Ok(pkce::verifier_from_bytes(&bytes))
}

/// Leaves for the identity provider, remembering the verifier and state for the way back.
pub fn start_oidc(cfg: &OidcConfig) -> Result<(), ApiError> {
    let verifier = random()?;
    let state = random()?;
    set(VERIFIER, &verifier);
    set(STATE, &state);
    let url = pkce::authorization_url(cfg, &state, &pkce::challenge(&verifier));
    web_sys::window()
        .ok_or_else(|| ApiError::Network("the identity provider".into()))?
        .location()
        .set_href(&url)
        .map_err(|_| ApiError::Network("the identity provider".into()))
}

/// Removes `code`/`state` from the address without a reload or a history entry.
fn clean_address() {
    let Some(w) = web_sys::window() else { return };
    let loc = w.location();
    let (Ok(path), Ok(search), Ok(hash)) = (loc.pathname(), loc.search(), loc.hash()) else { return };
    let clean = format!("{path}{}{hash}", pkce::strip_callback_params(&search));
    if let Ok(history) = w.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean));
    }
}

/// When the address is the identity provider's answer, finishes the sign-in and
/// returns the token; `Ok(None)` when the address is an ordinary one.
pub async fn finish_oidc(cfg: &OidcConfig) -> Result<Option<String>, ApiError> {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let Some(callback) = pkce::parse_callback(&search) else { return Ok(None) };
    clean_address();
    let expected_state = get(STATE).unwrap_or_default();
    let verifier = get(VERIFIER);
    remove(STATE);
    remove(VERIFIER);
    match callback {
        Callback::Error { error, description } => Err(ApiError::Refused {
            status: 401,
            message: format!("The identity provider did not sign you in: {}.", description.unwrap_or(error)),
        }),
        Callback::Code { code, state } => {
            let (true, Some(verifier)) = (pkce::state_matches(&expected_state, &state), verifier) else {
                return Err(ApiError::Refused {
                    status: 400,
                    message: "This sign-in answer does not belong to this tab (the state does not match). Sign in again.".into(),
                });
            };
            let tokens = api::exchange_code(cfg, &code, &verifier).await?;
            let token = match cfg.bearer {
                BearerToken::IdToken => tokens.id_token.unwrap_or(tokens.access_token),
                BearerToken::AccessToken => tokens.access_token,
            };
            save_token(&token);
            Ok(Some(token))
        }
    }
}
