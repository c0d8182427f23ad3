//! The domain's [`PostHog`] port on top of the typed client: PostHog's members and
//! access rules become core's `Member`, `OrgLevel` and `ProjectRole`, and every write
//! is read back before it is reported (DESIGN.md, "PostHog").
//!
//! How project roles map onto PostHog's rules:
//! | role   | project rule (`access_controls`) | resource rules (`resource_access_controls`) |
//! |--------|----------------------------------|---------------------------------------------|
//! | Admin  | `admin`                          | the member's own rules cleared              |
//! | Member | `member`                         | the member's `viewer` rules cleared         |
//! | Viewer | `member`                         | `viewer` on every configured resource type  |
//! | none   | rule deleted (`null`)            | the member's own rules cleared              |
//!
//! Writes are ordered so that a failure half-way leaves the member with less access,
//! never more: restrictions go on before the project rule that they restrict, and
//! come off after it.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use hogwarden_core::ports::{
    AccessSource, EffectiveAccess, Invitation, KeyCheck, Member, MemberRules, ObjectKind, OwnedObject, PostHog, PostHogError, Project,
    ProjectRules,
};
use hogwarden_core::reviews::ActivityRecord;
use hogwarden_core::types::{Email, OrgLevel, ProjectId, ProjectRole};

use crate::client::PostHogClient;
use crate::wire::{self, AccessControls, ProjectAccessLevel, ResourceAccessLevel};

/// Why a PostHog record cannot become a core [`Member`].
fn to_member(m: wire::OrganizationMember) -> Result<Member, String> {
    let email = Email::parse(&m.user.email).map_err(|_| format!("PostHog member {} has an email Hogwarden cannot read", m.user.uuid))?;
    let level = u8::try_from(m.level)
        .ok()
        .and_then(OrgLevel::from_posthog)
        .ok_or_else(|| format!("PostHog reports membership level {} for {email}, which Hogwarden does not know", m.level))?;
    Ok(Member {
        name: m.user.full_name(),
        user_uuid: m.user.uuid,
        membership_id: m.id,
        email,
        level,
        joined_at: m.joined_at,
        last_login: m.last_login,
        is_2fa_enabled: m.is_2fa_enabled.unwrap_or(false),
    })
}

/// Why a PostHog invite cannot become a core [`Invitation`]. The invite id stays behind:
/// it is the key of the signup link.
fn to_invitation(i: wire::OrganizationInvite, now: chrono::DateTime<chrono::Utc>) -> Result<Invitation, String> {
    let raw = i.target_email.as_deref().unwrap_or_default();
    let email = Email::parse(raw).map_err(|_| "PostHog holds an invitation with an email Hogwarden cannot read".to_owned())?;
    let level = u8::try_from(i.level)
        .ok()
        .and_then(OrgLevel::from_posthog)
        .ok_or_else(|| format!("PostHog reports invitation level {} for {email}, which Hogwarden does not know", i.level))?;
    let invited_by = i.created_by.and_then(|u| Email::parse(&u.email).ok());
    let projects = i
        .private_project_access
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let level = match p.level {
                serde_json::Value::String(s) => s,
                // Older PostHog wrote the membership level codes.
                serde_json::Value::Number(n) if n.as_u64() == Some(8) => "admin".into(),
                serde_json::Value::Number(_) => "member".into(),
                _ => return None,
            };
            Some((ProjectId::new(p.id).ok()?, level))
        })
        .collect();
    let mut invitation = Invitation { email, level, sent_at: i.created_at, expired: false, invited_by, projects };
    // PostHog's own verdict when it sends one; older versions did not.
    invitation.expired = i.is_expired.unwrap_or_else(|| invitation.expires_at() < now);
    Ok(invitation)
}

fn role_text(role: Option<ProjectRole>) -> String {
    role.map_or("no explicit access", ProjectRole::as_str).to_owned()
}

/// One member's resource-type rules at the project level (not per object), from a
/// `resource_access_controls` read: resource → level (a rule without a level reads as
/// an empty level, which no role treats as `viewer`).
fn resource_levels(rules: &AccessControls, membership_id: &str) -> BTreeMap<String, String> {
    rules
        .for_member(membership_id)
        .filter(|r| r.resource_id.is_none())
        .map(|r| (r.resource.clone(), r.access_level.clone().unwrap_or_default()))
        .collect()
}

impl PostHogClient {
    /// Whether the member's resource rules make an explicit project `member` a Viewer:
    /// at least one rule, every rule `viewer`, and every configured resource type
    /// covered. Anything else (an `editor` rule, a type left at its default) is less
    /// restricted than a Viewer, so it reads as Member.
    fn is_viewer(&self, rules: &AccessControls, membership_id: &str) -> bool {
        self.viewer_levels(&resource_levels(rules, membership_id))
    }

    /// [`Self::is_viewer`] over one member's resource levels.
    fn viewer_levels(&self, resources: &BTreeMap<String, String>) -> bool {
        !resources.is_empty()
            && resources.values().all(|l| l == ResourceAccessLevel::Viewer.as_str())
            && self.inner.config.viewer_resources.iter().all(|r| resources.contains_key(r))
    }

    /// Writes one resource-type rule and returns the level PostHog says it stored
    /// (`None`: the rule is gone).
    async fn put_resource_rule(
        &self,
        project: ProjectId,
        membership_id: &str,
        resource: &str,
        level: Option<ResourceAccessLevel>,
    ) -> Result<Option<String>, PostHogError> {
        let stored = self.put_resource_access_control(project, membership_id, resource, level).await?;
        let stored = stored.and_then(|r| r.access_level);
        let wanted = level.map(|l| l.as_str().to_owned());
        if stored != wanted {
            return Err(PostHogError::NotConfirmed {
                expected: format!("{resource} {}", wanted.as_deref().unwrap_or("no rule")),
                found: format!("{resource} {}", stored.as_deref().unwrap_or("no rule")),
            });
        }
        Ok(stored)
    }

    /// The member's explicit project role, and the project's rules it was read from.
    async fn read_project_role(&self, member: &Member, project: ProjectId) -> Result<(Option<ProjectRole>, AccessControls), PostHogError> {
        let rules = self.get_access_controls(project).await?;
        let level = rules.for_member(&member.membership_id).find(|r| r.resource == "project").and_then(|r| r.access_level.clone());
        let role = match level.as_deref() {
            None | Some("none") => None,
            Some("admin") => Some(ProjectRole::Admin),
            Some("member") => {
                let resource_rules = self.get_resource_access_controls(project).await?;
                Some(if self.is_viewer(&resource_rules, &member.membership_id) { ProjectRole::Viewer } else { ProjectRole::Member })
            }
            Some(other) => {
                return Err(PostHogError::Unavailable(format!(
                    "PostHog reports project access level '{other}' for {}, which Hogwarden does not know",
                    member.email
                )));
            }
        };
        Ok((role, rules))
    }
}

#[async_trait]
impl PostHog for PostHogClient {
    #[tracing::instrument(skip_all)]
    async fn find_member(&self, email: &Email) -> Result<Option<Member>, PostHogError> {
        match self.find_member_by_email(email.as_str()).await? {
            None => Ok(None),
            // Reporting "not a member" for someone whose record is odd could lead to
            // a second invite; fail loudly instead.
            Some(m) => to_member(m).map(Some).map_err(PostHogError::Unavailable),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn list_members(&self) -> Result<Vec<Member>, PostHogError> {
        let members = PostHogClient::list_members(self).await?;
        let total = members.len();
        let mapped: Vec<Member> = members
            .into_iter()
            .filter_map(|m| {
                to_member(m).inspect_err(|why| tracing::warn!(reason = %why, "skipping a PostHog member Hogwarden cannot represent")).ok()
            })
            .collect();
        if mapped.len() < total {
            tracing::warn!(skipped = total - mapped.len(), total, "some PostHog members were left out of the list");
        }
        Ok(mapped)
    }

    #[tracing::instrument(skip_all)]
    async fn list_projects(&self) -> Result<Vec<Project>, PostHogError> {
        let projects = PostHogClient::list_projects(self).await?;
        projects
            .into_iter()
            .map(|p| {
                let id =
                    ProjectId::new(p.id).map_err(|_| PostHogError::Unavailable(format!("PostHog reports a project with id {}", p.id)))?;
                Ok(Project { id, name: p.name })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(project = %project))]
    async fn project_roles(&self, project: ProjectId) -> Result<Vec<(String, ProjectRole)>, PostHogError> {
        let rules = self.get_access_controls(project).await?;
        let mut members: Vec<(String, String)> = rules
            .access_controls
            .iter()
            .filter(|r| r.resource == "project" && r.role.is_none())
            .filter_map(|r| Some((r.organization_member.clone()?, r.access_level.clone()?)))
            .collect();
        members.sort();
        let mut resource_rules = None;
        let mut roles = Vec::with_capacity(members.len());
        for (membership_id, level) in members {
            let role = match level.as_str() {
                "none" => continue,
                "admin" => ProjectRole::Admin,
                "member" => {
                    if resource_rules.is_none() {
                        resource_rules = Some(self.get_resource_access_controls(project).await?);
                    }
                    let viewer = resource_rules.as_ref().is_some_and(|r| self.is_viewer(r, &membership_id));
                    if viewer { ProjectRole::Viewer } else { ProjectRole::Member }
                }
                other => {
                    return Err(PostHogError::Unavailable(format!(
                        "PostHog reports project access level '{other}' in project {project}, which Hogwarden does not know"
                    )));
                }
            };
            roles.push((membership_id, role));
        }
        Ok(roles)
    }

    #[tracing::instrument(skip_all, fields(project = %project))]
    async fn project_open_to_org(&self, project: ProjectId) -> Result<bool, PostHogError> {
        let rules = self.get_access_controls(project).await?;
        Ok(rules.project_default().is_none_or(|d| d.access_level.as_deref() != Some("none")))
    }

    #[tracing::instrument(skip_all, fields(project = %project, membership = %member.membership_id))]
    async fn effective_access(&self, member: &Member, project: ProjectId) -> Result<Option<EffectiveAccess>, PostHogError> {
        let access = self.users_with_access(project).await?;
        Ok(access
            .users
            .into_iter()
            .find(|u| u.organization_membership_id.as_deref() == Some(member.membership_id.as_str()) || u.user_id == member.user_uuid)
            .map(|u| EffectiveAccess { level: u.access_level, source: AccessSource::from_posthog(&u.access_source) }))
    }

    #[tracing::instrument(skip_all)]
    async fn invitations_for(&self, email: &Email) -> Result<Vec<Invitation>, PostHogError> {
        let now = chrono::Utc::now();
        self.invites_for_email(email.as_str())
            .await?
            .into_iter()
            .map(|i| to_invitation(i, now).map_err(PostHogError::Unavailable))
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn access_activity(&self, since: chrono::DateTime<chrono::Utc>) -> Result<Vec<ActivityRecord>, PostHogError> {
        let entries = self.access_activity_since(since).await?;
        Ok(entries
            .into_iter()
            .map(|e| ActivityRecord {
                at: e.created_at,
                actor: e.user.and_then(|u| u.email).and_then(|m| Email::parse(&m).ok()),
                scope: e.scope,
                item_id: e.item_id.unwrap_or_default(),
                project: e.team_id.and_then(|t| ProjectId::new(t).ok()),
                name: e.detail.and_then(|d| d.name),
            })
            .collect())
    }

    #[tracing::instrument(skip_all)]
    async fn check_key(&self) -> Result<KeyCheck, PostHogError> {
        let accepted = PostHogClient::check_key(self).await?;
        Ok(KeyCheck { fingerprint: format!("sha256:{}", self.key_fingerprint_prefix()), accepted })
    }

    #[tracing::instrument(skip_all, fields(user = %member.user_uuid, level = level.as_str()))]
    async fn set_org_level(&self, member: &Member, level: OrgLevel) -> Result<OrgLevel, PostHogError> {
        self.patch_member_level(&member.user_uuid, level).await?;
        let expected = level.as_str().to_owned();
        let Some(found) = self.find_member_by_email(member.email.as_str()).await? else {
            return Err(PostHogError::NotConfirmed { expected, found: "not a member".into() });
        };
        match u8::try_from(found.level).ok().and_then(OrgLevel::from_posthog) {
            Some(now) if now == level => Ok(now),
            Some(now) => Err(PostHogError::NotConfirmed { expected, found: now.as_str().into() }),
            None => Err(PostHogError::NotConfirmed { expected, found: format!("level {}", found.level) }),
        }
    }

    #[tracing::instrument(skip_all, fields(project = %project, membership = %member.membership_id))]
    async fn project_role(&self, member: &Member, project: ProjectId) -> Result<Option<ProjectRole>, PostHogError> {
        self.read_project_role(member, project).await.map(|(role, _)| role)
    }

    #[tracing::instrument(skip_all, fields(project = %project, membership = %member.membership_id, role = %role_text(role)))]
    async fn set_project_role(
        &self,
        member: &Member,
        project: ProjectId,
        role: Option<ProjectRole>,
    ) -> Result<Option<ProjectRole>, PostHogError> {
        let rules = self.get_resource_access_controls(project).await?;
        // The project rule's current level is not read here, so it is always written.
        let known = MemberRules { role: None, resources: resource_levels(&rules, &member.membership_id) };
        self.write_project_role(member, project, role, &known).await?;
        let (found, project_rules) = self.read_project_role(member, project).await?;
        let default = project_rules.project_default().and_then(|d| d.access_level.as_deref());
        if role.is_none() && default != Some("none") {
            // Deleting an explicit rule does not lock anyone out of a project that is
            // open to the whole organization; the caller should know.
            tracing::warn!(
                project = %project,
                "the project is open to the whole organization: removing the member's explicit rule does not remove their access"
            );
        }
        if found == role { Ok(found) } else { Err(PostHogError::NotConfirmed { expected: role_text(role), found: role_text(found) }) }
    }
    #[tracing::instrument(skip_all, fields(project = %project))]
    async fn project_rules(&self, project: ProjectId) -> Result<ProjectRules, PostHogError> {
        let project_rules = self.get_access_controls(project).await?;
        let resource_rules = self.get_resource_access_controls(project).await?;
        let mut out = ProjectRules::default();
        let members: BTreeSet<&str> = resource_rules
            .access_controls
            .iter()
            .chain(&project_rules.access_controls)
            .filter(|r| r.role.is_none())
            .filter_map(|r| r.organization_member.as_deref())
            .collect();
        for membership_id in members {
            let level = project_rules.for_member(membership_id).find(|r| r.resource == "project").and_then(|r| r.access_level.as_deref());
            let resources = resource_levels(&resource_rules, membership_id);
            let role = match level {
                None | Some("none") => None,
                Some("admin") => Some(ProjectRole::Admin),
                Some("member") => Some(if self.viewer_levels(&resources) { ProjectRole::Viewer } else { ProjectRole::Member }),
                Some(other) => {
                    return Err(PostHogError::Unavailable(format!(
                        "PostHog reports project access level '{other}' in project {project}, which Hogwarden does not know"
                    )));
                }
            };
            out.set(membership_id, MemberRules { role, resources });
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(project = %project, membership = %member.membership_id, role = %role_text(role)))]
    async fn write_project_role(
        &self,
        member: &Member,
        project: ProjectId,
        role: Option<ProjectRole>,
        known: &MemberRules,
    ) -> Result<MemberRules, PostHogError> {
        let id = member.membership_id.as_str();
        let mut resources = known.resources.clone();
        let level = match role {
            None => None,
            Some(ProjectRole::Viewer | ProjectRole::Member) => Some(ProjectAccessLevel::Member),
            Some(ProjectRole::Admin) => Some(ProjectAccessLevel::Admin),
        };
        // A Viewer and a Member share the project rule `member`: moving between them
        // only changes resource rules.
        let same_level = matches!(
            (known.role, role),
            (Some(ProjectRole::Viewer | ProjectRole::Member), Some(ProjectRole::Viewer | ProjectRole::Member))
        );
        // Restrictions go on before the project rule they restrict.
        if role == Some(ProjectRole::Viewer) {
            let mut wanted: BTreeSet<String> = self.inner.config.viewer_resources.iter().cloned().collect();
            wanted.extend(resources.keys().cloned());
            for resource in wanted {
                if resources.get(&resource).map(String::as_str) != Some(ResourceAccessLevel::Viewer.as_str()) {
                    let stored = self.put_resource_rule(project, id, &resource, Some(ResourceAccessLevel::Viewer)).await?;
                    resources.insert(resource, stored.unwrap_or_default());
                }
            }
        }
        if !same_level {
            let stored = self.put_access_control(project, id, level).await?.and_then(|r| r.access_level);
            let stored = stored.filter(|l| l != "none");
            if stored.as_deref() != level.map(ProjectAccessLevel::as_str) {
                return Err(PostHogError::NotConfirmed {
                    expected: role_text(role),
                    found: format!("project rule {}", stored.as_deref().unwrap_or("none")),
                });
            }
        }
        // ... and come off after it.
        let doomed: Vec<String> = match role {
            Some(ProjectRole::Viewer) => Vec::new(),
            Some(ProjectRole::Member) => {
                resources.iter().filter(|(_, l)| *l == ResourceAccessLevel::Viewer.as_str()).map(|(r, _)| r.clone()).collect()
            }
            Some(ProjectRole::Admin) | None => resources.keys().cloned().collect(),
        };
        for resource in doomed {
            self.put_resource_rule(project, id, &resource, None).await?;
            resources.remove(&resource);
        }
        let found = match level {
            None => None,
            Some(ProjectAccessLevel::Admin) => Some(ProjectRole::Admin),
            Some(ProjectAccessLevel::Member) => {
                Some(if self.viewer_levels(&resources) { ProjectRole::Viewer } else { ProjectRole::Member })
            }
        };
        if found != role {
            return Err(PostHogError::NotConfirmed { expected: role_text(role), found: role_text(found) });
        }
        Ok(MemberRules { role: found, resources })
    }

    #[tracing::instrument(skip_all, fields(project = %project, user = %member.user_uuid))]
    async fn objects_created_by(&self, member: &Member, project: ProjectId) -> Result<Vec<OwnedObject>, PostHogError> {
        // The integer user id is what two of the filters take; `Member` keeps the uuid.
        let user_id = self.find_member_by_email(member.email.as_str()).await?.and_then(|m| m.user.id).map(|id| id.to_string());
        let mut out = Vec::new();
        for kind in ObjectKind::ALL {
            let filter: Vec<(&str, &str)> = match (kind, user_id.as_deref()) {
                (ObjectKind::Insight, Some(id)) => vec![("created_by", id)],
                (ObjectKind::FeatureFlag, Some(id)) => vec![("created_by_id", id)],
                (ObjectKind::Notebook, _) => vec![("created_by", member.user_uuid.as_str())],
                _ => Vec::new(),
            };
            for item in self.list_objects(project, kind, &filter).await? {
                let mine = item.created_by.as_ref().is_some_and(|u| u.uuid == member.user_uuid);
                let Some(key) = item.path_key(kind).filter(|_| mine) else {
                    continue;
                };
                out.push(OwnedObject {
                    kind,
                    project,
                    name: item.display_name(kind),
                    private: kind == ObjectKind::Insight && item.saved == Some(false),
                    key,
                });
            }
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(object = %object.key, membership = %member.membership_id))]
    async fn object_access(&self, object: &OwnedObject, member: &Member) -> Result<Option<String>, PostHogError> {
        let rules = self.get_object_access_controls(object.project, object.kind, &object.key).await?;
        Ok(rules.for_member(&member.membership_id).find(|r| r.resource_id.is_some()).and_then(|r| r.access_level.clone()))
    }

    #[tracing::instrument(skip_all, fields(object = %object.key, membership = %member.membership_id, level = level))]
    async fn set_object_access(&self, object: &OwnedObject, member: &Member, level: &str) -> Result<Option<String>, PostHogError> {
        self.put_object_access_control(object.project, object.kind, &object.key, &member.membership_id, Some(level)).await?;
        self.object_access(object, member).await
    }

    #[tracing::instrument(skip_all, fields(user = %member.user_uuid))]
    async fn remove_member(&self, member: &Member) -> Result<bool, PostHogError> {
        PostHogClient::remove_member(self, &member.user_uuid).await?;
        Ok(self.find_member_by_email(member.email.as_str()).await?.is_some())
    }
}
