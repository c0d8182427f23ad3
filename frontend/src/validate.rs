//! The request form's rules, the same the API applies (`functions/core`): known roles
//! only and never Owner, one project at least for a project role, a duration within
//! the policy's cap for the chosen role, a reason of 5 to 1000 characters, a ticket
//! without spaces. The form refuses before sending what the API would refuse.

use chrono::{DateTime, NaiveDate, Utc};
use hogwarden_api_types::{ChangeDto, CreateRequest, PolicyDto};

/// The longest duration anything may ask for, whatever the policy says.
pub const ABSOLUTE_MAX_MINUTES: i64 = 366 * 24 * 60;
pub const REASON_MIN: usize = 5;
pub const REASON_MAX: usize = 1000;
pub const TICKET_MAX: usize = 200;

/// What the request changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Org,
    Project,
    /// Remove one's explicit role in projects (permanent).
    Removal,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Org => "org",
            Self::Project => "project",
            Self::Removal => "removal",
        }
    }

    pub fn parse(raw: &str) -> Self {
        match raw {
            "project" => Self::Project,
            "removal" => Self::Removal,
            _ => Self::Org,
        }
    }

    /// Whether the change lands in projects the person picks.
    pub fn needs_projects(self) -> bool {
        matches!(self, Self::Project | Self::Removal)
    }

    /// The roles the form offers. Owner is not among them.
    pub fn roles(self) -> &'static [&'static str] {
        match self {
            Self::Org => &["member", "admin"],
            Self::Project => &["viewer", "member", "admin"],
            Self::Removal => &[],
        }
    }
}

/// The unit of the duration field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minutes,
    Hours,
    Days,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minutes => "minutes",
            Self::Hours => "hours",
            Self::Days => "days",
        }
    }

    pub fn parse(raw: &str) -> Self {
        match raw {
            "minutes" => Self::Minutes,
            "days" => Self::Days,
            _ => Self::Hours,
        }
    }

    pub fn minutes(self) -> i64 {
        match self {
            Self::Minutes => 1,
            Self::Hours => 60,
            Self::Days => 1440,
        }
    }
}

/// How temporary access ends: after a duration counted from when it is applied, or on
/// a fixed date (contractors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    After,
    OnDate,
}

impl Ends {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::After => "after",
            Self::OnDate => "date",
        }
    }

    pub fn parse(raw: &str) -> Self {
        if raw == "date" { Self::OnDate } else { Self::After }
    }
}

/// The form as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Whose access: empty for one's own.
    pub subject: String,
    pub kind: Kind,
    pub role: String,
    pub projects: Vec<i64>,
    pub temporary: bool,
    pub ends: Ends,
    pub duration: String,
    pub unit: Unit,
    /// `YYYY-MM-DD`, for [`Ends::OnDate`].
    pub end_date: String,
    pub reason: String,
    pub ticket: String,
}

/// When access with an end date ends: the last minute of that day, UTC.
/// `date` is `YYYY-MM-DD`, what a date input gives (read by hand: chrono's format-string
/// parser is a sizeable part of the WASM module for this one use).
pub fn end_of_day(date: &str) -> Option<DateTime<Utc>> {
    let mut parts = date.trim().split('-');
    let mut number =
        |digits: usize| parts.next().filter(|p| p.len() == digits && p.bytes().all(|b| b.is_ascii_digit()))?.parse::<u32>().ok();
    let (year, month, day) = (number(4)?, number(2)?, number(2)?);
    if parts.next().is_some() {
        return None;
    }
    let d = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(d.and_hms_opt(23, 59, 0)?.and_utc())
}

/// A plausible email address (the API checks it against PostHog).
fn looks_like_email(raw: &str) -> bool {
    let mut parts = raw.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(user), Some(domain), None)
        if !user.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
        && raw.len() <= 254
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The policy's cap for a role, in minutes; `None` for a role the form does not offer.
pub fn max_minutes(policy: &PolicyDto, kind: Kind, role: &str) -> Option<i64> {
    let m = &policy.max_duration_minutes;
    Some(match (kind, role) {
        (Kind::Org, "admin") => m.org_admin,
        (Kind::Org, "member") => m.org_member,
        (Kind::Project, "admin") => m.project_admin,
        (Kind::Project, "member") => m.project_member,
        (Kind::Project, "viewer") => m.project_viewer,
        _ => return None,
    })
}

/// Whether an approver has to say yes. Admin always needs approval.
pub fn needs_approval(policy: &PolicyDto, kind: Kind, role: &str) -> Option<bool> {
    let n = &policy.needs_approval;
    Some(match (kind, role) {
        (Kind::Org, "admin") => n.org_admin,
        (Kind::Org, "member") => n.org_member,
        (Kind::Project, "admin") => n.project_admin,
        (Kind::Project, "member") => n.project_member,
        (Kind::Project, "viewer") => n.project_viewer,
        (Kind::Removal, _) => n.project_removal,
        _ => return None,
    })
}

/// Why Owner is not on the list, shown under the role picker.
pub const OWNER_NOTE: &str = "Owner is never granted through Hogwarden: an owner controls billing and can delete the \
                              organization, so ownership is only passed on by an existing owner in PostHog itself.";

/// Why a removal cannot be temporary.
pub const REMOVAL_NOTE: &str = "Removal from a project is permanent: untick Temporary access, or ask for a lower role for a while instead.";

/// Turns the form into the API's body, or lists every problem in words. `now` checks
/// an end date against the policy's cap.
pub fn build(draft: &Draft, policy: &PolicyDto, now: DateTime<Utc>) -> Result<CreateRequest, Vec<String>> {
    let mut problems = Vec::new();
    let subject = draft.subject.trim().to_ascii_lowercase();
    if !subject.is_empty() && !looks_like_email(&subject) {
        problems.push("Enter the person's email address, such as dana@example.com, or leave For empty to ask for yourself.".into());
    }
    let role = draft.role.trim().to_ascii_lowercase();
    let cap = max_minutes(policy, draft.kind, &role);
    if draft.kind == Kind::Removal {
        if draft.temporary {
            problems.push(REMOVAL_NOTE.to_owned());
        }
    } else if role == "owner" {
        problems.push(OWNER_NOTE.to_owned());
    } else if cap.is_none() {
        problems.push(format!("'{role}' is not a role you can ask for here; choose one from the list."));
    }

    let changes: Vec<ChangeDto> = match draft.kind {
        Kind::Org => vec![ChangeDto::OrgRole { role: role.clone() }],
        Kind::Project | Kind::Removal => {
            let mut ids = draft.projects.clone();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                problems.push("Choose at least one project.".into());
            }
            ids.into_iter()
                .map(|project_id| match draft.kind {
                    Kind::Removal => ChangeDto::RemoveFromProject { project_id },
                    _ => ChangeDto::ProjectRole { project_id, role: role.clone() },
                })
                .collect()
        }
    };
    if changes.len() > policy.max_changes_per_request {
        problems.push(format!("A request may hold at most {} changes; choose fewer projects.", policy.max_changes_per_request));
    }

    let temporary = draft.temporary && draft.kind != Kind::Removal;
    let limit = cap.unwrap_or(ABSOLUTE_MAX_MINUTES).min(ABSOLUTE_MAX_MINUTES);
    let ends_at = if temporary && draft.ends == Ends::OnDate {
        match end_of_day(&draft.end_date) {
            None => {
                problems.push("Enter the end date as a date, such as 2026-12-31.".into());
                None
            }
            Some(at) if at <= now => {
                problems.push("The end date has passed; choose a later day.".into());
                None
            }
            Some(at) if (at - now).num_minutes() > limit => {
                problems.push(format!(
                    "Temporary {} access may last at most {}; {} is further away.",
                    crate::format::title(&role),
                    crate::format::minutes(limit),
                    draft.end_date.trim()
                ));
                None
            }
            Some(at) => Some(at),
        }
    } else {
        None
    };
    let duration_minutes = if temporary && draft.ends == Ends::After {
        match draft.duration.trim().parse::<i64>() {
            Ok(n) if n >= 1 => {
                let total = n.saturating_mul(draft.unit.minutes());
                if total > limit {
                    problems.push(format!(
                        "Temporary {} access may last at most {}; you asked for {}.",
                        crate::format::title(&role),
                        crate::format::minutes(limit),
                        crate::format::minutes(total)
                    ));
                }
                Some(total)
            }
            _ => {
                problems.push("Enter the duration as a whole number, 1 or more.".into());
                None
            }
        }
    } else {
        None
    };

    let reason = draft.reason.trim();
    let reason_len = reason.chars().count();
    if reason_len < REASON_MIN {
        problems.push(format!("Say why you need this access, in {REASON_MIN} characters or more."));
    } else if reason_len > REASON_MAX {
        problems.push(format!("The reason may be at most {REASON_MAX} characters long (it is {reason_len})."));
    }

    let ticket = draft.ticket.trim();
    if ticket.len() > TICKET_MAX || ticket.chars().any(|c| c.is_whitespace() || c.is_control()) {
        problems.push(format!("A ticket is one reference without spaces, such as OPS-123, at most {TICKET_MAX} characters."));
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(CreateRequest {
        subject_email: (!subject.is_empty()).then_some(subject),
        changes,
        duration_minutes,
        ends_at,
        reason: reason.to_owned(),
        ticket: (!ticket.is_empty()).then(|| ticket.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hogwarden_api_types::{MaxDurationsDto, NeedsApprovalDto};

    fn policy() -> PolicyDto {
        PolicyDto {
            max_duration_minutes: MaxDurationsDto {
                org_admin: 1440,
                org_member: 90 * 1440,
                project_admin: 7 * 1440,
                project_member: 90 * 1440,
                project_viewer: 180 * 1440,
            },
            needs_approval: NeedsApprovalDto {
                org_admin: true,
                org_member: true,
                project_admin: true,
                project_member: true,
                project_viewer: false,
                project_removal: true,
            },
            approvals_required: 1,
            pending_ttl_minutes: 72 * 60,
            max_changes_per_request: 2,
        }
    }

    fn now() -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
    }

    fn draft() -> Draft {
        Draft {
            subject: String::new(),
            kind: Kind::Org,
            role: "admin".into(),
            projects: vec![],
            temporary: true,
            ends: Ends::After,
            duration: "2".into(),
            unit: Unit::Hours,
            end_date: String::new(),
            reason: "  Incident INC-7: rotate the ingestion key  ".into(),
            ticket: "INC-7".into(),
        }
    }

    #[test]
    fn a_temporary_org_admin_request_becomes_the_apis_body() {
        let body = build(&draft(), &policy(), now()).unwrap();
        assert_eq!(body.changes, vec![ChangeDto::OrgRole { role: "admin".into() }]);
        assert_eq!(body.duration_minutes, Some(120));
        assert_eq!(body.reason, "Incident INC-7: rotate the ingestion key");
        assert_eq!(body.ticket.as_deref(), Some("INC-7"));
        assert_eq!(body.subject_email, None);
    }

    #[test]
    fn owner_is_refused_with_the_reason() {
        let problems = build(&Draft { role: "owner".into(), ..draft() }, &policy(), now()).unwrap_err();
        assert_eq!(problems, vec![OWNER_NOTE.to_owned()]);
        assert!(!Kind::Org.roles().contains(&"owner"));
    }

    #[test]
    fn a_duration_over_the_roles_cap_is_refused_before_sending() {
        let problems = build(&Draft { duration: "2".into(), unit: Unit::Days, ..draft() }, &policy(), now()).unwrap_err();
        assert_eq!(problems, vec!["Temporary Admin access may last at most 1 day; you asked for 2 days.".to_owned()]);
        assert!(build(&Draft { duration: "24".into(), ..draft() }, &policy(), now()).is_ok());
    }

    #[test]
    fn a_permanent_change_sends_no_duration() {
        let body = build(&Draft { temporary: false, duration: "junk".into(), ..draft() }, &policy(), now()).unwrap();
        assert_eq!(body.duration_minutes, None);
    }

    #[test]
    fn a_project_role_needs_projects_and_respects_the_change_limit() {
        let d = Draft { kind: Kind::Project, role: "viewer".into(), ..draft() };
        assert_eq!(build(&d, &policy(), now()).unwrap_err(), vec!["Choose at least one project.".to_owned()]);
        let body = build(&Draft { projects: vec![3, 2, 3], ..d.clone() }, &policy(), now()).unwrap();
        assert_eq!(
            body.changes,
            vec![
                ChangeDto::ProjectRole { project_id: 2, role: "viewer".into() },
                ChangeDto::ProjectRole { project_id: 3, role: "viewer".into() }
            ]
        );
        let too_many = build(&Draft { projects: vec![1, 2, 3], ..d }, &policy(), now()).unwrap_err();
        assert_eq!(too_many, vec!["A request may hold at most 2 changes; choose fewer projects.".to_owned()]);
    }

    #[test]
    fn a_removal_is_permanent_and_names_the_projects() {
        let d = Draft { kind: Kind::Removal, role: String::new(), projects: vec![7], temporary: false, ..draft() };
        let body = build(&d, &policy(), now()).unwrap();
        assert_eq!(body.changes, vec![ChangeDto::RemoveFromProject { project_id: 7 }]);
        assert_eq!(body.duration_minutes, None);
        assert_eq!(build(&Draft { temporary: true, ..d }, &policy(), now()).unwrap_err(), vec![REMOVAL_NOTE.to_owned()]);
        assert_eq!(needs_approval(&policy(), Kind::Removal, ""), Some(true));
        assert_eq!(max_minutes(&policy(), Kind::Removal, ""), None);
    }

    #[test]
    fn an_end_date_is_a_real_day_written_yyyy_mm_dd() {
        assert_eq!(end_of_day(" 2028-02-29 ").map(|t| t.to_rfc3339()), Some("2028-02-29T23:59:00+00:00".into()));
        for junk in ["2027-02-29", "2027-13-01", "2027-1-05", "27-01-05", "2027-01-05-1", "2027/01/05", "2027-01-+5", "", "tomorrow"] {
            assert_eq!(end_of_day(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn a_contractor_end_date_ends_that_day_and_respects_the_cap() {
        let d = Draft {
            subject: " Dana@Example.com ".into(),
            kind: Kind::Project,
            role: "member".into(),
            projects: vec![2],
            ends: Ends::OnDate,
            end_date: "2027-01-31".into(),
            ..draft()
        };
        let body = build(&d, &policy(), now()).unwrap();
        assert_eq!(body.subject_email.as_deref(), Some("dana@example.com"));
        assert_eq!(body.ends_at.map(|t| t.to_rfc3339()), Some("2027-01-31T23:59:00+00:00".into()));
        assert_eq!(body.duration_minutes, None);

        let past = build(&Draft { end_date: "2026-11-26".into(), ..d.clone() }, &policy(), now()).unwrap_err();
        assert_eq!(past, vec!["The end date has passed; choose a later day.".to_owned()]);
        let far = build(&Draft { end_date: "2027-12-31".into(), ..d.clone() }, &policy(), now()).unwrap_err();
        assert_eq!(far, vec!["Temporary Member access may last at most 90 days; 2027-12-31 is further away.".to_owned()]);
        let junk = build(&Draft { end_date: "31/01/2027".into(), ..d }, &policy(), now()).unwrap_err();
        assert_eq!(junk, vec!["Enter the end date as a date, such as 2026-12-31.".to_owned()]);
    }

    #[test]
    fn for_someone_else_needs_an_email() {
        assert_eq!(build(&draft(), &policy(), now()).unwrap().subject_email, None);
        for bad in ["dana", "dana@", "da na@example.com", "a@b@example.com", "dana@example"] {
            let problems = build(&Draft { subject: bad.into(), ..draft() }, &policy(), now()).unwrap_err();
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert!(problems[0].starts_with("Enter the person's email address"), "{bad}: {problems:?}");
        }
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let d = Draft { duration: "0".into(), reason: "no".into(), ticket: "OPS 1".into(), ..draft() };
        assert_eq!(build(&d, &policy(), now()).unwrap_err().len(), 3);
    }

    #[test]
    fn the_policy_facts_follow_the_chosen_role() {
        assert_eq!(max_minutes(&policy(), Kind::Org, "admin"), Some(1440));
        assert_eq!(max_minutes(&policy(), Kind::Org, "viewer"), None);
        assert_eq!(needs_approval(&policy(), Kind::Project, "viewer"), Some(false));
    }
}
