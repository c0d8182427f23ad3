//! The identity-provider claims the dev sign-in puts in each demo user's token, so the
//! SSO rules have something to map (the guide's `department` and `contractor`), and
//! access reviews a manager claim to assign by.

/// `(email, department, contractor)`.
pub const DEMO_CLAIMS: &[(&str, &str, bool)] = &[
    ("alice@example.com", "Engineering", false),
    ("bob@example.com", "Engineering", false),
    ("frank@example.com", "Product", false),
    ("grace@example.com", "Product", true),
];

/// `(email, manager)`: the manager claim access reviews assign items by.
pub const DEMO_MANAGERS: &[(&str, &str)] = &[("grace@example.com", "frank@example.com")];

/// The extra claims of a demo user's token (empty for anyone else).
pub fn claims_for(email: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    if let Some((_, department, contractor)) = DEMO_CLAIMS.iter().find(|(e, _, _)| e.eq_ignore_ascii_case(email.trim())) {
        out.insert("department".into(), serde_json::Value::String((*department).to_owned()));
        out.insert("contractor".into(), serde_json::Value::Bool(*contractor));
    }
    if let Some((_, manager)) = DEMO_MANAGERS.iter().find(|(e, _)| e.eq_ignore_ascii_case(email.trim())) {
        out.insert("manager".into(), serde_json::Value::String((*manager).to_owned()));
    }
    out
}
