//! Bulk change sets: rows of (email, project, role or org level, optional end date)
//! read from CSV or JSON, and the plan that compares them with PostHog's current
//! state before anything is written. Every row gets a line number and one of:
//! a change, a no-op (PostHog already shows it), or an error in words — unknown
//! email or project, Owner, a bad or past date, a duplicate of an earlier row.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{AccessChange, AccessLevel};
use crate::ports::Member;
use crate::types::{Email, OrgLevel, OrgRole, ParseError, Principal, ProjectId, ProjectRole, Role};
use crate::usecases::Hogwarden;

/// At most this many rows in one change set.
pub const MAX_ROWS: usize = 5000;

/// One row as read, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRow {
    /// Line in the CSV file (the header is line 1), or item number in the JSON array.
    #[serde(skip)]
    pub line: usize,
    pub email: String,
    /// A project's name or numeric id; empty for the organization level.
    #[serde(default)]
    pub project: String,
    /// `viewer`, `member`, `admin` or `none` (remove) for a project; `member` or
    /// `admin` for the organization.
    pub role: String,
    /// Optional: a date (`2026-06-30`, access ends when that day ends, UTC) or an
    /// RFC 3339 time.
    #[serde(default)]
    pub end_date: String,
}

/// Reads CSV with a header naming the columns `email`, `project`, `role` and
/// optionally `end_date`, in any order.
pub fn parse_csv(text: &str) -> Result<Vec<BulkRow>> {
    let bad = |m: String| Error::Invalid(ParseError::Other(m));
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| bad(format!("the CSV header cannot be read: {e}")))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(email), Some(role)) = (column("email"), column("role")) else {
        return Err(bad("the CSV header must name the columns email, project, role and (optionally) end_date".into()));
    };
    let (project, end) = (column("project"), column("end_date"));
    if let Some(unknown) = headers.iter().find(|h| !["email", "project", "role", "end_date"].iter().any(|k| h.eq_ignore_ascii_case(k))) {
        return Err(bad(format!("unknown CSV column '{unknown}': use email, project, role, end_date")));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(format!("CSV {e}")))?;
        // The line in the file, counted from the record's byte offset (csv's own line
        // count skips blank lines).
        let mut byte = record.position().map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX)).min(text.len());
        while matches!(text.as_bytes().get(byte), Some(b'\n' | b'\r')) {
            byte += 1;
        }
        let line = text.as_bytes()[..byte].iter().filter(|b| **b == b'\n').count() + 1;
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or_default().to_owned();
        rows.push(BulkRow { line, email: get(Some(email)), project: get(project), role: get(Some(role)), end_date: get(end) });
        if rows.len() > MAX_ROWS {
            return Err(bad(format!("a change set holds at most {MAX_ROWS} rows")));
        }
    }
    Ok(rows)
}

/// Reads a JSON array of `{"email", "project", "role", "end_date"}` objects.
pub fn parse_json(text: &str) -> Result<Vec<BulkRow>> {
    let mut rows: Vec<BulkRow> =
        serde_json::from_str(text).map_err(|e| Error::Invalid(ParseError::Other(format!("the JSON change set cannot be read: {e}"))))?;
    if rows.len() > MAX_ROWS {
        return Err(Error::Invalid(ParseError::Other(format!("a change set holds at most {MAX_ROWS} rows"))));
    }
    for (i, row) in rows.iter_mut().enumerate() {
        row.line = i + 1;
    }
    Ok(rows)
}

/// What the plan says of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    Change,
    NoOp,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    pub line: usize,
    pub email: String,
    /// "organization" or the project's name.
    pub target: String,
    pub current: Option<String>,
    pub desired: Option<String>,
    pub change: Option<AccessChange>,
    pub ends_at: Option<DateTime<Utc>>,
    pub action: PlanAction,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkPlan {
    pub items: Vec<PlanItem>,
}

impl BulkPlan {
    pub fn count(&self, action: PlanAction) -> usize {
        self.items.iter().filter(|i| i.action == action).count()
    }
}

impl Hogwarden {
    /// Compares a change set with PostHog, row by row, writing nothing. Reads the
    /// members and projects once, and each named project's roles once.
    pub async fn bulk_plan(&self, who: &Principal, rows: &[BulkRow]) -> Result<BulkPlan> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to plan bulk changes.".into()));
        }
        let members = self.posthog.list_members().await?;
        let by_email: HashMap<&str, &Member> = members.iter().map(|m| (m.email.as_str(), m)).collect();
        let projects = self.posthog.list_projects().await?;
        let now = self.clock.now();

        let mut roles: HashMap<ProjectId, HashMap<String, ProjectRole>> = HashMap::new();
        let mut open: HashMap<ProjectId, bool> = HashMap::new();
        let mut seen: HashMap<(String, Option<ProjectId>), usize> = HashMap::new();
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let mut item = PlanItem {
                line: row.line,
                email: row.email.trim().to_owned(),
                target: if row.project.trim().is_empty() { "organization".into() } else { row.project.trim().to_owned() },
                current: None,
                desired: None,
                change: None,
                ends_at: None,
                action: PlanAction::Error,
                message: None,
            };
            let planned: std::result::Result<(), String> = async {
                let email = Email::parse(&row.email).map_err(|e| e.to_string())?;
                let member = by_email
                    .get(email.as_str())
                    .ok_or_else(|| format!("{email} is not a member of the organization (invite them first)"))?;
                let project = match row.project.trim() {
                    "" => None,
                    p => Some(
                        projects
                            .iter()
                            .find(|x| x.name.eq_ignore_ascii_case(p) || x.id.get().to_string() == p)
                            .ok_or_else(|| format!("there is no project '{p}' in the organization"))?,
                    ),
                };
                if let Some(p) = project {
                    item.target = p.name.clone();
                }
                let key = (email.as_str().to_owned(), project.map(|p| p.id));
                if let Some(first) = seen.get(&key) {
                    return Err(format!("duplicate of line {first}: one row per person and target"));
                }
                let role = row.role.trim().to_ascii_lowercase();
                let change = match project {
                    None if role == "owner" => {
                        return Err("Owner is never granted: in PostHog only owners manage billing and ownership".into());
                    }
                    None => AccessChange::OrgRole { role: OrgRole::parse(&role).map_err(|e| e.to_string())? },
                    Some(p) if matches!(role.as_str(), "none" | "remove") => AccessChange::RemoveFromProject { project: p.id },
                    Some(p) => AccessChange::ProjectRole { project: p.id, role: ProjectRole::parse(&role).map_err(|e| e.to_string())? },
                };
                let ends_at = match row.end_date.trim() {
                    "" => None,
                    raw => Some(end_date(raw)?),
                };
                if let Some(end) = ends_at {
                    if end <= now {
                        return Err(format!("the end date {} is in the past", end.format("%Y-%m-%d")));
                    }
                    if matches!(change, AccessChange::RemoveFromProject { .. }) {
                        return Err("a removal is permanent: leave end_date empty".into());
                    }
                    let max = self.policy.max_duration(&change);
                    if end - now > max.as_chrono() {
                        return Err(format!("{} may last at most {max}; the end date is further away", change.describe()));
                    }
                }
                let current = match project {
                    None => AccessLevel::Org(member.level),
                    Some(p) => {
                        if let std::collections::hash_map::Entry::Vacant(slot) = roles.entry(p.id) {
                            let read = self.posthog.project_roles(p.id).await.map_err(|e| e.to_string())?;
                            slot.insert(read.into_iter().map(|(m, r)| (m.to_ascii_lowercase(), r)).collect());
                        }
                        AccessLevel::Project(roles[&p.id].get(&member.membership_id.to_ascii_lowercase()).copied())
                    }
                };
                if member.level == OrgLevel::Owner && project.is_none() {
                    return Err(format!("{email} is an owner; Hogwarden does not change owners"));
                }
                item.current = Some(current.describe().to_owned());
                item.desired = Some(change.desired().describe().to_owned());
                item.ends_at = ends_at;
                if current == change.desired() {
                    item.action = PlanAction::NoOp;
                    item.message = Some("PostHog already shows this".into());
                } else {
                    if let (AccessChange::RemoveFromProject { project: id }, Some(p)) = (&change, project) {
                        if let std::collections::hash_map::Entry::Vacant(slot) = open.entry(*id) {
                            slot.insert(self.posthog.project_open_to_org(*id).await.map_err(|e| e.to_string())?);
                        }
                        if open[id] {
                            return Err(format!(
                                "{} is open to everyone in the organization, so a removal cannot take effect: restrict it first",
                                p.name
                            ));
                        }
                    }
                    item.action = PlanAction::Change;
                }
                item.change = Some(change);
                // Only a row that planned counts as the first of its target.
                seen.insert(key, row.line);
                Ok(())
            }
            .await;
            if let Err(message) = planned {
                item.action = PlanAction::Error;
                item.message = Some(message);
            }
            items.push(item);
        }
        Ok(BulkPlan { items })
    }
}

/// `2026-06-30` (access ends when that day ends, UTC) or an RFC 3339 time.
fn end_date(raw: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return day
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("'{raw}' is not a usable date"));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("'{raw}' is not a date: use YYYY-MM-DD (for example 2026-06-30) or an RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_keep_their_file_line_numbers_and_columns_in_any_order() {
        let rows = parse_csv("role,email,project,end_date\nmember,a@example.com,Web App,\n\nadmin, b@example.com ,,2026-06-30\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[0].email.as_str(), rows[0].project.as_str()), (2, "a@example.com", "Web App"));
        assert_eq!((rows[1].line, rows[1].email.as_str(), rows[1].end_date.as_str()), (4, "b@example.com", "2026-06-30"));
    }

    #[test]
    fn a_csv_without_the_needed_columns_or_with_unknown_ones_is_refused() {
        assert!(parse_csv("mail,role\nx,y\n").unwrap_err().to_string().contains("must name the columns"));
        assert!(parse_csv("email,role,colour\nx,y,z\n").unwrap_err().to_string().contains("unknown CSV column 'colour'"));
    }

    #[test]
    fn json_rows_are_numbered_from_one_and_unknown_fields_refused() {
        let rows =
            parse_json(r#"[{"email":"a@example.com","role":"admin"},{"email":"b@example.com","project":"1001","role":"viewer"}]"#).unwrap();
        assert_eq!((rows[0].line, rows[1].line), (1, 2));
        assert!(parse_json(r#"[{"email":"a@example.com","role":"admin","level":8}]"#).is_err());
    }

    #[test]
    fn an_end_date_is_the_end_of_that_day_in_utc() {
        assert_eq!(end_date("2026-06-30").unwrap().to_rfc3339(), "2026-07-01T00:00:00+00:00");
        assert!(end_date("30/06/2026").unwrap_err().contains("YYYY-MM-DD"));
    }
}
