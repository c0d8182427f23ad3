//! Newtypes parsed at the edge. Each has private fields and a `parse` that returns a
//! [`ParseError`] naming the problem, so nothing past a handler is a raw string.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why an input could not become a domain value. `Display` is user-facing text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("'{0}' is not a valid email address")]
    Email(String),
    #[error(
        "'{0}' is not an organization role Hogwarden grants: use 'member' or 'admin' (owner is never granted: only owners manage billing and ownership in PostHog)"
    )]
    OrgRole(String),
    #[error("'{0}' is not a project role: use 'viewer', 'member' or 'admin'")]
    ProjectRole(String),
    #[error("duration must be a whole number of minutes between {min} and {max}, got {got}")]
    Duration { got: i64, min: i64, max: i64 },
    #[error("reason is required: say why the access is needed (at least {min} characters)")]
    JustificationTooShort { min: usize },
    #[error("reason is too long: at most {max} characters")]
    JustificationTooLong { max: usize },
    #[error("ticket must be at most {max} printable characters without spaces")]
    Ticket { max: usize },
    #[error("{field} must be one line of visible text: remove the {what} {code_point}")]
    Character { field: &'static str, what: &'static str, code_point: String },
    #[error("'{0}' is not a valid project id: use the project's numeric id")]
    ProjectId(String),
    #[error("'{0}' is not a valid id")]
    Id(String),
    #[error("{0}")]
    Other(String),
}

/// An email address, trimmed and lower-cased. PostHog users are matched by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim().to_ascii_lowercase();
        let bad = || ParseError::Email(truncate_for_message(raw));
        if s.is_empty() || s.len() > Self::MAX_LEN || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if !domain_ok || !local_ok {
            return Err(bad());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// Keeps error messages short and free of control characters when echoing input.
pub(crate) fn truncate_for_message(raw: &str) -> String {
    let clean: String = raw.chars().filter(|c| !c.is_control()).take(64).collect();
    if raw.chars().count() > 64 { format!("{clean}…") } else { clean }
}

/// An organization role Hogwarden may grant. There is no `Owner` variant: owner is
/// never granted, so it cannot be represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    Member,
    Admin,
}

impl OrgRole {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "member" => Ok(Self::Member),
            "admin" | "administrator" => Ok(Self::Admin),
            _ => Err(ParseError::OrgRole(truncate_for_message(raw))),
        }
    }

    pub fn level(self) -> OrgLevel {
        match self {
            Self::Member => OrgLevel::Member,
            Self::Admin => OrgLevel::Admin,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }
}

/// An organization membership level as PostHog reports it (1, 8 or 15). Unlike
/// [`OrgRole`] this includes `Owner`, because PostHog may report one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgLevel {
    Member,
    Admin,
    Owner,
}

impl OrgLevel {
    pub fn from_posthog(level: u8) -> Option<Self> {
        match level {
            1 => Some(Self::Member),
            8 => Some(Self::Admin),
            15 => Some(Self::Owner),
            _ => None,
        }
    }

    pub fn to_posthog(self) -> u8 {
        match self {
            Self::Member => 1,
            Self::Admin => 8,
            Self::Owner => 15,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
}

/// A role in one project, in PostHog admins' words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectRole {
    Viewer,
    Member,
    Admin,
}

impl ProjectRole {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Self::Viewer),
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            _ => Err(ParseError::ProjectRole(truncate_for_message(raw))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }
}

/// A PostHog project's numeric id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProjectId(i64);

impl ProjectId {
    pub fn new(id: i64) -> Result<Self, ParseError> {
        if id > 0 { Ok(Self(id)) } else { Err(ParseError::ProjectId(id.to_string())) }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How long temporary access lasts, in whole minutes. Bounds by role come from
/// [`crate::policy::Policy`]; this type only guarantees a positive, sane value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GrantDuration {
    minutes: i64,
}

impl GrantDuration {
    /// The longest duration anything may ask for; policy caps are lower.
    pub const ABSOLUTE_MAX_MINUTES: i64 = 366 * 24 * 60;
    pub const MIN_MINUTES: i64 = 1;

    pub fn from_minutes(minutes: i64) -> Result<Self, ParseError> {
        if (Self::MIN_MINUTES..=Self::ABSOLUTE_MAX_MINUTES).contains(&minutes) {
            Ok(Self { minutes })
        } else {
            Err(ParseError::Duration { got: minutes, min: Self::MIN_MINUTES, max: Self::ABSOLUTE_MAX_MINUTES })
        }
    }

    pub fn minutes(self) -> i64 {
        self.minutes
    }

    pub fn as_chrono(self) -> chrono::Duration {
        chrono::Duration::minutes(self.minutes)
    }

    pub fn as_std(self) -> Duration {
        Duration::from_secs(self.minutes as u64 * 60)
    }
}

impl fmt::Display for GrantDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, h, m) = (self.minutes / 1440, (self.minutes % 1440) / 60, self.minutes % 60);
        let mut parts = Vec::new();
        if d > 0 {
            parts.push(format!("{d} d"));
        }
        if h > 0 {
            parts.push(format!("{h} h"));
        }
        if m > 0 || parts.is_empty() {
            parts.push(format!("{m} min"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// What kind of character free text may not hold, if `c` is one: line breaks (they
/// forge lines in the Markdown record and rows in notifications), other control
/// characters, and invisible formatting characters (Unicode category Cf: bidirectional
/// overrides such as U+202E reorder what Slack and email show, zero-width characters
/// and tag characters hide text). Zero-width (non-)joiners U+200C/U+200D stay allowed:
/// Persian, Indic scripts and emoji need them, and they reorder nothing.
fn hidden_or_control(c: char) -> Option<&'static str> {
    const FORMAT: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200B),
        (0x200E, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    ];
    let code = c as u32;
    if matches!(c, '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}') {
        Some("line break")
    } else if c.is_control() {
        Some("control character")
    } else if FORMAT.iter().any(|&(lo, hi)| (lo..=hi).contains(&code)) {
        Some("invisible formatting character")
    } else {
        None
    }
}

/// Refuses free text (`field` names it in the error) holding a line break, a control
/// character or an invisible formatting character, naming the first one's code point.
pub fn check_plain_text(field: &'static str, text: &str) -> Result<(), ParseError> {
    match text.chars().find_map(|c| hidden_or_control(c).map(|what| (c, what))) {
        Some((c, what)) => Err(ParseError::Character { field, what, code_point: format!("U+{:04X}", c as u32) }),
        None => Ok(()),
    }
}

/// Why access is needed: documented on every request (the guide's checklist). One line
/// of visible text (see [`check_plain_text`]).
///
/// Read back from storage as stored: a reason stored before line breaks were refused
/// must still load (renderers neutralise it), while input goes through [`Self::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Justification(String);

impl<'de> Deserialize<'de> for Justification {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

impl Justification {
    pub const MIN_LEN: usize = 5;
    pub const MAX_LEN: usize = 1000;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim().to_owned();
        check_plain_text("reason", &s)?;
        let len = s.chars().count();
        if len < Self::MIN_LEN {
            return Err(ParseError::JustificationTooShort { min: Self::MIN_LEN });
        }
        if len > Self::MAX_LEN {
            return Err(ParseError::JustificationTooLong { max: Self::MAX_LEN });
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Justification {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Justification> for String {
    fn from(value: Justification) -> Self {
        value.0
    }
}

/// An optional reference to a ticket (e.g. `OPS-123` or a URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ticket(String);

impl Ticket {
    pub const MAX_LEN: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim();
        if s.is_empty() || s.len() > Self::MAX_LEN || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ParseError::Ticket { max: Self::MAX_LEN });
        }
        check_plain_text("ticket", s)?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Ticket {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Ticket> for String {
    fn from(value: Ticket) -> Self {
        value.0
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                uuid::Uuid::parse_str(raw.trim()).map(Self).map_err(|_| ParseError::Id(truncate_for_message(raw)))
            }

            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }

            pub const PREFIX: &'static str = $prefix;
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies an access request.
    RequestId,
    "req"
);
id_type!(
    /// Identifies one applied change (a grant) of a request.
    GrantId,
    "grant"
);

/// Hogwarden's own roles, from the identity provider's groups claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Requester,
    Approver,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Requester, Role::Approver, Role::Admin];

    /// The identity provider's group that gives this role, e.g. `hogwarden-admin`.
    pub fn group_name(self) -> &'static str {
        match self {
            Self::Requester => "hogwarden-requester",
            Self::Approver => "hogwarden-approver",
            Self::Admin => "hogwarden-admin",
        }
    }

    /// The role a group gives, matched exactly: only Hogwarden's own group names count,
    /// so a provider group such as `admin` or `Billing admin` gives no role.
    pub fn from_group(group: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.group_name() == group)
    }
}

/// A verified caller: who they are and which Hogwarden roles they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub email: Email,
    pub subject: String,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role) || (role != Role::Admin && self.roles.contains(&Role::Admin))
    }

    /// The name written into audit entries for this caller.
    pub fn actor(&self) -> Actor {
        Actor::Person(self.email.clone())
    }
}

/// Who caused an audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    Person(Email),
    /// Hogwarden itself (the sweep, policy auto-approval).
    System(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Person(e) => e.fmt(f),
            Self::System(s) => write!(f, "hogwarden:{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hogwarden_group_names_give_a_role() {
        for role in Role::ALL {
            assert_eq!(Role::from_group(role.group_name()), Some(role));
        }
        for other in ["admin", "approver", "requester", "Billing admin", "hogwarden-admins", " hogwarden-admin", "HOGWARDEN-ADMIN"] {
            assert_eq!(Role::from_group(other), None, "{other}");
        }
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(Email::parse("  Alice@Example.COM ").unwrap().as_str(), "alice@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a b@example.com",
            "alice@example",
            "alice@@example.com",
            "alice@exa_mple.com",
            "alice@.example.com",
            "al\u{0}ice@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn owner_is_not_an_org_role_and_says_why() {
        let err = OrgRole::parse("owner").unwrap_err();
        assert!(err.to_string().contains("owner is never granted"), "{err}");
        assert_eq!(OrgRole::parse("Admin").unwrap(), OrgRole::Admin);
    }

    #[test]
    fn durations_are_bounded() {
        assert!(GrantDuration::from_minutes(0).is_err());
        assert!(GrantDuration::from_minutes(-5).is_err());
        assert!(GrantDuration::from_minutes(GrantDuration::ABSOLUTE_MAX_MINUTES + 1).is_err());
        assert_eq!(GrantDuration::from_minutes(90).unwrap().to_string(), "1 h 30 min");
    }

    #[test]
    fn justification_needs_substance() {
        assert!(Justification::parse("   ").is_err());
        assert!(Justification::parse("ok").is_err());
        assert!(Justification::parse(&"x".repeat(1001)).is_err());
        assert_eq!(Justification::parse("  configure the flag  ").unwrap().as_str(), "configure the flag");
    }

    // The attack: a reason that forges a ticked checklist line in the Markdown record.
    #[test]
    fn a_reason_with_a_line_break_is_refused_naming_reason() {
        let err = Justification::parse("Debug the flag\n- [x] Approved by security").unwrap_err();
        assert_eq!(err.to_string(), "reason must be one line of visible text: remove the line break U+000A");
        assert!(Justification::parse("Debug the flag\r\n| 9 | forged |").is_err());
        assert!(Justification::parse("Debug the flag\u{2028}- [x] Approved").is_err());
        assert!(Justification::parse("Debug the flag\n").is_ok(), "a trailing line break is trimmed");
    }

    // The attack: a right-to-left override that makes Slack and email show other text.
    #[test]
    fn a_reason_with_a_bidi_override_or_other_hidden_character_is_refused_naming_it() {
        let err = Justification::parse("Debug the flag \u{202E}nimda em ekam").unwrap_err();
        assert_eq!(err.to_string(), "reason must be one line of visible text: remove the invisible formatting character U+202E");
        for hidden in ['\u{200B}', '\u{2066}', '\u{FEFF}', '\u{E0041}', '\u{0007}', '\t', '\u{9B}'] {
            assert!(Justification::parse(&format!("Debug{hidden} the flag")).is_err(), "U+{:04X} passed", hidden as u32);
        }
        assert!(Justification::parse("Débogage du drapeau 🚩 می‌خواهم 👩‍💻").is_ok(), "accents, emoji and joiners are text");
        assert!(matches!(Ticket::parse("OPS-1\u{202E}"), Err(ParseError::Character { field: "ticket", .. })));
    }

    #[test]
    fn a_stored_reason_reads_back_as_stored() {
        let stored: Justification = serde_json::from_value(serde_json::json!("written\nbefore the rule")).unwrap();
        assert_eq!(stored.as_str(), "written\nbefore the rule");
    }

    #[test]
    fn org_levels_round_trip_posthog_numbers() {
        for l in [1u8, 8, 15] {
            assert_eq!(OrgLevel::from_posthog(l).unwrap().to_posthog(), l);
        }
        assert_eq!(OrgLevel::from_posthog(7), None);
    }

    #[test]
    fn admins_hold_every_role() {
        let p = Principal { email: Email::parse("a@example.com").unwrap(), subject: "s".into(), roles: vec![Role::Admin] };
        assert!(p.has(Role::Approver) && p.has(Role::Requester));
        let r = Principal { roles: vec![Role::Requester], ..p };
        assert!(!r.has(Role::Approver));
    }
}
