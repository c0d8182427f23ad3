//! One module per page. Each page loads what it shows through `crate::api`, and shows
//! a loading, an empty and an error state.

pub mod audit;
pub mod bulk;
pub mod diagnose;
pub mod inbox;
pub mod key_alerts;
pub mod keys;
pub mod my_access;
pub mod offboarding;
pub mod overview;
pub mod request;
pub mod request_detail;
pub mod reviews;
pub mod sso;
pub mod token_rotation;

/// A `datetime-local` value (the reader's local time) as RFC 3339 UTC.
pub fn local_to_utc(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(raw));
    if d.get_time().is_nan() {
        return None;
    }
    d.to_iso_string().as_string()
}

/// A UTC time as a `datetime-local` value in the reader's local time (`2026-11-27T15:05`).
pub fn utc_to_local(at: chrono::DateTime<chrono::Utc>) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at.timestamp_millis() as f64));
    format!("{:04}-{:02}-{:02}T{:02}:{:02}", d.get_full_year(), d.get_month() + 1, d.get_date(), d.get_hours(), d.get_minutes())
}
