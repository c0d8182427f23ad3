//! Words and numbers as people read them: roles, changes, durations, time left,
//! statuses and audit kinds, in PostHog's vocabulary.

use chrono::{DateTime, Datelike, Timelike, Utc};
use hogwarden_api_types::{ChangeDto, ProjectDto};

/// `admin` → `Admin`, `apply_failed` → `Apply failed`.
pub fn title(raw: &str) -> String {
    let spaced = raw.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A project's name, or `project 42` when it is not known.
pub fn project_name(id: i64, projects: &[ProjectDto]) -> String {
    projects.iter().find(|p| p.id == id).map_or_else(|| format!("project {id}"), |p| p.name.clone())
}

/// `Organization role Admin`, `Project role Member in Web app`.
pub fn change(c: &ChangeDto, projects: &[ProjectDto]) -> String {
    match c {
        ChangeDto::OrgRole { role } => format!("Organization role {}", title(role)),
        ChangeDto::ProjectRole { project_id, role } => format!("Project role {} in {}", title(role), project_name(*project_id, projects)),
        ChangeDto::RemoveFromProject { project_id } => format!("Removal from {}", project_name(*project_id, projects)),
    }
}

/// All of a request's changes in one line.
pub fn changes(cs: &[ChangeDto], projects: &[ProjectDto]) -> String {
    cs.iter().map(|c| change(c, projects)).collect::<Vec<_>>().join("; ")
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `45 min`, `2 h 30 min`, `1 day`, `7 days`, `1 day 2 h`.
pub fn minutes(total: i64) -> String {
    let (d, h, m) = (total / 1440, (total % 1440) / 60, total % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(plural(d, "day", "days"));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 || parts.is_empty() {
        parts.push(format!("{m} min"));
    }
    parts.join(" ")
}

/// How long a request lasts: `Permanent` or the duration.
pub fn duration(minutes_opt: Option<i64>) -> String {
    minutes_opt.map_or_else(|| "Permanent".into(), minutes)
}

/// `59 min left`, `23 h 59 min left`, `less than a minute left`: whole minutes, counted
/// down (a grant of one hour reads `59 min left` a moment after it was applied).
pub fn time_left(seconds: i64) -> String {
    if seconds <= 0 {
        return "ending now".into();
    }
    if seconds < 60 {
        return "less than a minute left".into();
    }
    format!("{} left", minutes(seconds / 60))
}

/// Seconds from `now` until `at`.
pub fn seconds_until(at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (at - now).num_seconds()
}

/// How long requested access lasts: `Until 2027-01-31 23:59 UTC`, `2 h` or `Permanent`.
pub fn lasts(duration_minutes: Option<i64>, ends_at: Option<DateTime<Utc>>) -> String {
    match ends_at {
        Some(at) => format!("Until {}", when(at)),
        None => duration(duration_minutes),
    }
}

/// `2026-11-27 14:05 UTC`.
pub fn when(at: DateTime<Utc>) -> String {
    // By hand rather than `at.format(…)`: chrono's format strings cost the module more
    // than the rest of this file.
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", at.year(), at.month(), at.day(), at.hour(), at.minute())
}

/// A request's status as a word.
pub fn status(raw: &str) -> String {
    title(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn projects() -> Vec<ProjectDto> {
        vec![ProjectDto { id: 2, name: "Web app".into() }]
    }

    #[test]
    fn changes_read_in_posthog_words() {
        assert_eq!(change(&ChangeDto::OrgRole { role: "admin".into() }, &projects()), "Organization role Admin");
        assert_eq!(change(&ChangeDto::ProjectRole { project_id: 2, role: "member".into() }, &projects()), "Project role Member in Web app");
        assert_eq!(
            change(&ChangeDto::ProjectRole { project_id: 9, role: "viewer".into() }, &projects()),
            "Project role Viewer in project 9"
        );
    }

    #[test]
    fn durations_use_days_hours_and_minutes() {
        assert_eq!(minutes(45), "45 min");
        assert_eq!(minutes(60), "1 h");
        assert_eq!(minutes(150), "2 h 30 min");
        assert_eq!(minutes(1440), "1 day");
        assert_eq!(minutes(7 * 1440 + 120), "7 days 2 h");
        assert_eq!(duration(None), "Permanent");
    }

    #[test]
    fn time_left_counts_whole_minutes_down() {
        assert_eq!(time_left(3600), "1 h left");
        assert_eq!(time_left(3599), "59 min left");
        assert_eq!(time_left(3540), "59 min left");
        assert_eq!(time_left(86_399), "23 h 59 min left");
        assert_eq!(time_left(86_000), "23 h 53 min left");
        assert_eq!(time_left(60), "1 min left");
        assert_eq!(time_left(30), "less than a minute left");
        assert_eq!(time_left(0), "ending now");
    }

    #[test]
    fn kinds_and_statuses_are_capitalised_words() {
        assert_eq!(title("apply_failed"), "Apply failed");
        assert_eq!(status("pending"), "Pending");
        assert_eq!(title(""), "");
    }

    #[test]
    fn times_are_shown_in_utc() {
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 14, 5, 9).unwrap();
        assert_eq!(when(t), "2026-11-27 14:05 UTC");
        assert_eq!(lasts(Some(90), Some(t)), "Until 2026-11-27 14:05 UTC");
        assert_eq!(lasts(Some(90), None), "1 h 30 min");
        assert_eq!(seconds_until(t, t - chrono::Duration::seconds(90)), 90);
    }
}
