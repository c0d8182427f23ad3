//! PostHog's permission rules as plain functions over the model, free of HTTP.
//!
//! Each function mirrors one piece of PostHog's source (named in its doc) so the rules can be
//! unit-tested on their own and the routes only translate outcomes into responses.

use uuid::Uuid;

use crate::config::{MemberDenialText, OwnerRemoval};
use crate::model::{AccessLevel, AccessRule, OrgLevel, default_level, ordered_levels, rank};

/// A membership as the level rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seat {
    /// Membership id.
    pub membership_id: Uuid,
    /// Its level.
    pub level: OrgLevel,
}

/// Why `validate_update` refused a change (`OrganizationMembership.validate_update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LevelDenial {
    /// Rule 1.
    #[error("You can't change your own access level.")]
    OwnLevel,
    /// Rule 2.
    #[error("You can only make another member owner if you're this organization's owner.")]
    OwnerOnlyByOwner,
    /// Rule 3.
    #[error("You can only change access level of others to lower or equal to your current one.")]
    AboveOwnLevel,
    /// Rule 4, requester below admin.
    #[error("You can only edit others if you are an admin.")]
    NotAdmin,
    /// Rule 4, target above requester.
    #[error("You can only edit others with level lower or equal to you.")]
    TargetOutranks,
}

/// The message PostHog's member object permission carries (typo as in PostHog's source).
pub const GENERIC_MEMBER_DENIAL: &str = "Your cannot edit other organization members.";

/// `OrganizationMembership.validate_update(target, new_level)`, evaluated for `requester`.
pub fn validate_update(requester: Seat, target: Seat, new_level: Option<OrgLevel>) -> Result<(), LevelDenial> {
    let is_self = requester.membership_id == target.membership_id;
    if let Some(level) = new_level {
        if is_self {
            return Err(LevelDenial::OwnLevel);
        }
        if level == OrgLevel::Owner {
            if requester.level != OrgLevel::Owner {
                return Err(LevelDenial::OwnerOnlyByOwner);
            }
        } else if level > requester.level {
            return Err(LevelDenial::AboveOwnLevel);
        }
    }
    if !is_self {
        if requester.level < OrgLevel::Admin {
            return Err(LevelDenial::NotAdmin);
        }
        if target.level > requester.level {
            return Err(LevelDenial::TargetOutranks);
        }
    }
    Ok(())
}

/// `OrganizationMemberObjectPermissions`: the check every PATCH, PUT and DELETE of a member
/// passes before anything else, returning the 403 text when it fails.
pub fn member_object_permission(requester: Seat, target: Seat, text: MemberDenialText) -> Result<(), String> {
    validate_update(requester, target, None).map_err(|denial| match text {
        MemberDenialText::Specific => denial.to_string(),
        MemberDenialText::Generic => GENERIC_MEMBER_DENIAL.to_owned(),
    })
}

/// Why removing a member was refused (`User.leave`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RemovalDenial {
    /// Older `User.leave`: no owner may leave.
    #[error("Cannot leave the organization as its owner!")]
    Owner,
    /// Newer rule: only the last owner may not leave.
    #[error("You can't leave the organization as its only owner. Make someone else an owner first.")]
    LastOwner,
}

/// Whether a member at `target_level` may be removed when the organization has `owner_count`
/// owners (the target included).
pub fn check_removal(policy: OwnerRemoval, target_level: OrgLevel, owner_count: usize) -> Result<(), RemovalDenial> {
    if target_level != OrgLevel::Owner {
        return Ok(());
    }
    match policy {
        OwnerRemoval::RejectAnyOwner => Err(RemovalDenial::Owner),
        OwnerRemoval::RejectLastOwner if owner_count <= 1 => Err(RemovalDenial::LastOwner),
        OwnerRemoval::RejectLastOwner | OwnerRemoval::Allow => Ok(()),
    }
}

/// Whom access rules are resolved for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Their membership.
    pub membership_id: Uuid,
    /// Org admins and owners bypass every access rule.
    pub is_org_admin: bool,
    /// The roles they hold.
    pub role_ids: Vec<Uuid>,
}

impl Subject {
    /// Whether `rule` applies to this subject: everyone-rows, their own rows, their roles' rows.
    pub fn is_subject_of(&self, rule: &AccessRule) -> bool {
        match (rule.organization_member, rule.role) {
            (None, None) => true,
            (Some(member), None) => member == self.membership_id,
            (None, Some(role)) => self.role_ids.contains(&role),
            (Some(_), Some(_)) => false,
        }
    }
}

fn highest<'a>(resource: &str, rules: impl Iterator<Item = &'a AccessRule>) -> Option<AccessLevel> {
    rules.filter_map(|r| rank(resource, r.access_level).map(|i| (i, r.access_level))).max_by_key(|(i, _)| *i).map(|(_, level)| level)
}

/// The subject's level on one object (`UserAccessControl.get_user_access_level`), given the
/// rows of that object (`resource` and `resource_id` already matched).
///
/// Org admins get the highest level; otherwise the highest of the subject's member and role
/// rows wins, then the highest everyone-row, then the resource default. With `explicit`, the
/// default is not used and `None` comes back instead (PostHog's `explicit=True`).
pub fn object_level<'a>(
    subject: &Subject,
    resource: &str,
    object_rules: impl IntoIterator<Item = &'a AccessRule>,
    explicit: bool,
) -> Option<AccessLevel> {
    if subject.is_org_admin {
        return ordered_levels(resource).last().copied();
    }
    let applicable: Vec<&AccessRule> = object_rules.into_iter().filter(|r| subject.is_subject_of(r)).collect();
    let specific = highest(resource, applicable.iter().copied().filter(|r| !r.is_default()));
    if specific.is_some() {
        return specific;
    }
    let everyone = highest(resource, applicable.iter().copied());
    if everyone.is_some() || explicit {
        return everyone;
    }
    Some(default_level(resource))
}

/// `check_can_modify_access_levels_for_object(team)`: org admins, and members whose explicit
/// project level is `admin`.
pub fn can_modify_project_access<'a>(subject: &Subject, project_rules: impl IntoIterator<Item = &'a AccessRule>) -> bool {
    subject.is_org_admin || object_level(subject, "project", project_rules, true) == Some(AccessLevel::Admin)
}

/// How a user got access to an object (`AccessSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessSource {
    /// Org admin or owner.
    OrganizationAdmin,
    /// A row for their membership.
    ExplicitMember,
    /// A row for one of their roles.
    ExplicitRole,
    /// The project default or PostHog's default.
    Default,
}

impl AccessSource {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrganizationAdmin => "organization_admin",
            Self::ExplicitMember => "explicit_member",
            Self::ExplicitRole => "explicit_role",
            Self::Default => "default",
        }
    }
}

/// `UserAccessControl.get_access_source_for_object` for an object with `object_rules`.
pub fn access_source<'a>(subject: &Subject, object_rules: impl IntoIterator<Item = &'a AccessRule>) -> AccessSource {
    if subject.is_org_admin {
        return AccessSource::OrganizationAdmin;
    }
    let rules: Vec<&AccessRule> = object_rules.into_iter().collect();
    if rules.iter().any(|r| r.organization_member == Some(subject.membership_id)) {
        return AccessSource::ExplicitMember;
    }
    if rules.iter().any(|r| r.role.is_some_and(|role| subject.role_ids.contains(&role))) {
        return AccessSource::ExplicitRole;
    }
    AccessSource::Default
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn seat(n: u128, level: OrgLevel) -> Seat {
        Seat { membership_id: Uuid::from_u128(n), level }
    }

    fn rule(member: Option<u128>, level: AccessLevel) -> AccessRule {
        AccessRule {
            id: Uuid::nil(),
            team_id: 1,
            resource: "project".into(),
            resource_id: Some("1".into()),
            organization_member: member.map(Uuid::from_u128),
            role: None,
            access_level: level,
            created_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn member(n: u128) -> Subject {
        Subject { membership_id: Uuid::from_u128(n), is_org_admin: false, role_ids: vec![] }
    }

    #[test]
    fn nobody_changes_their_own_level() {
        let owner = seat(1, OrgLevel::Owner);
        assert_eq!(validate_update(owner, owner, Some(OrgLevel::Admin)), Err(LevelDenial::OwnLevel));
    }

    #[test]
    fn only_owners_make_owners() {
        let admin = seat(1, OrgLevel::Admin);
        let target = seat(2, OrgLevel::Member);
        assert_eq!(validate_update(admin, target, Some(OrgLevel::Owner)), Err(LevelDenial::OwnerOnlyByOwner));
        assert_eq!(validate_update(seat(3, OrgLevel::Owner), target, Some(OrgLevel::Owner)), Ok(()));
    }

    #[test]
    fn members_cannot_edit_others() {
        let requester = seat(1, OrgLevel::Member);
        let target = seat(2, OrgLevel::Member);
        assert_eq!(validate_update(requester, target, None), Err(LevelDenial::NotAdmin));
        assert_eq!(validate_update(requester, target, Some(OrgLevel::Admin)), Err(LevelDenial::AboveOwnLevel));
    }

    #[test]
    fn admins_cannot_touch_owners_but_can_manage_admins_and_members() {
        let admin = seat(1, OrgLevel::Admin);
        assert_eq!(validate_update(admin, seat(2, OrgLevel::Owner), None), Err(LevelDenial::TargetOutranks));
        assert_eq!(validate_update(admin, seat(3, OrgLevel::Admin), Some(OrgLevel::Member)), Ok(()));
        assert_eq!(validate_update(admin, seat(4, OrgLevel::Member), Some(OrgLevel::Admin)), Ok(()));
    }

    #[test]
    fn object_permission_text_follows_the_switch() {
        let requester = seat(1, OrgLevel::Member);
        let target = seat(2, OrgLevel::Member);
        assert_eq!(
            member_object_permission(requester, target, MemberDenialText::Specific),
            Err("You can only edit others if you are an admin.".to_owned())
        );
        assert_eq!(member_object_permission(requester, target, MemberDenialText::Generic), Err(GENERIC_MEMBER_DENIAL.to_owned()));
        assert_eq!(member_object_permission(requester, requester, MemberDenialText::Generic), Ok(()));
    }

    #[test]
    fn owner_removal_follows_the_policy() {
        assert_eq!(check_removal(OwnerRemoval::RejectAnyOwner, OrgLevel::Owner, 3), Err(RemovalDenial::Owner));
        assert_eq!(check_removal(OwnerRemoval::RejectLastOwner, OrgLevel::Owner, 1), Err(RemovalDenial::LastOwner));
        assert_eq!(check_removal(OwnerRemoval::RejectLastOwner, OrgLevel::Owner, 2), Ok(()));
        assert_eq!(check_removal(OwnerRemoval::RejectAnyOwner, OrgLevel::Admin, 1), Ok(()));
    }

    #[test]
    fn project_without_rows_gives_everyone_admin() {
        assert_eq!(object_level(&member(1), "project", [], false), Some(AccessLevel::Admin));
        assert_eq!(object_level(&member(1), "project", [], true), None);
    }

    #[test]
    fn restricted_project_gives_none_unless_explicitly_granted() {
        let rules = [rule(None, AccessLevel::None), rule(Some(2), AccessLevel::Member)];
        assert_eq!(object_level(&member(1), "project", &rules, false), Some(AccessLevel::None));
        assert_eq!(object_level(&member(2), "project", &rules, false), Some(AccessLevel::Member));
    }

    #[test]
    fn explicit_rows_win_over_a_higher_default() {
        let rules = [rule(None, AccessLevel::Admin), rule(Some(2), AccessLevel::None)];
        assert_eq!(object_level(&member(2), "project", &rules, false), Some(AccessLevel::None));
    }

    #[test]
    fn org_admins_always_have_admin_and_may_modify() {
        let admin = Subject { is_org_admin: true, ..member(9) };
        let rules = [rule(None, AccessLevel::None)];
        assert_eq!(object_level(&admin, "project", &rules, false), Some(AccessLevel::Admin));
        assert!(can_modify_project_access(&admin, &rules));
        assert_eq!(access_source(&admin, &rules), AccessSource::OrganizationAdmin);
    }

    #[test]
    fn only_explicit_project_admins_may_modify() {
        let rules = [rule(None, AccessLevel::None), rule(Some(2), AccessLevel::Admin), rule(Some(3), AccessLevel::Member)];
        assert!(can_modify_project_access(&member(2), &rules));
        assert!(!can_modify_project_access(&member(3), &rules));
        assert!(!can_modify_project_access(&member(4), &rules));
        assert_eq!(access_source(&member(3), &rules), AccessSource::ExplicitMember);
        assert_eq!(access_source(&member(4), &rules), AccessSource::Default);
    }
}
