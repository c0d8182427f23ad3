//! Objects people create in a project: dashboards, insights, feature flags and notebooks,
//! each with its read-only `created_by` (PostHog's serializers declare it
//! `UserBasicSerializer(read_only=True)`; nothing reassigns it).
//!
//! What the sandbox keeps of them is what offboarding needs: who created which object in
//! which project, the insight's `saved` flag (an unsaved insight is a private draft: the
//! Insights list with `saved=true` leaves it out), and per-object access controls
//! (`/api/projects/{id}/{resource}s/{object}/access_controls/`, PostHog's
//! `AccessControlViewSetMixin.access_controls` action). Removing a member does not touch
//! these objects: `created_by` is `ForeignKey(User, on_delete=SET_NULL)` and removing a
//! membership does not delete the user, so they stay, credited to the departed user.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::state::{IdGen, Store};

/// The object types offboarding hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `/dashboards/`, looked up by integer id.
    Dashboard,
    /// `/insights/`, looked up by integer id.
    Insight,
    /// `/feature_flags/`, looked up by integer id.
    FeatureFlag,
    /// `/notebooks/`, looked up by `short_id`; its `id` is a uuid.
    Notebook,
}

impl ObjectKind {
    /// Every kind, in the order the routes are registered.
    pub const ALL: [Self; 4] = [Self::Dashboard, Self::Insight, Self::FeatureFlag, Self::Notebook];

    /// The access-control resource (and scope object) of the kind.
    pub fn resource(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Insight => "insight",
            Self::FeatureFlag => "feature_flag",
            Self::Notebook => "notebook",
        }
    }

    /// The URL segment under `/api/projects/{id}/`.
    pub fn segment(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboards",
            Self::Insight => "insights",
            Self::FeatureFlag => "feature_flags",
            Self::Notebook => "notebooks",
        }
    }

    /// The kind for a URL segment.
    pub fn from_segment(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.segment() == segment)
    }

    /// The kind for a resource name.
    pub fn from_resource(resource: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.resource() == resource)
    }
}

/// One object.
#[derive(Debug, Clone)]
pub struct Object {
    /// What it is.
    pub kind: ObjectKind,
    /// Integer primary key (dashboards, insights, flags).
    pub id: i64,
    /// Primary key of notebooks.
    pub uuid: Uuid,
    /// Short id (insights and notebooks).
    pub short_id: String,
    /// The project.
    pub team_id: i64,
    /// Name (a flag's `key`, a notebook's `title`).
    pub name: String,
    /// The creating user, `None` once the user is deleted.
    pub created_by: Option<i64>,
    /// Insights only: saved (listed) or a private draft.
    pub saved: bool,
    /// Soft-deleted objects are left out of lists.
    pub deleted: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Object {
    /// The path key of the object's detail routes.
    pub fn lookup(&self) -> String {
        match self.kind {
            ObjectKind::Notebook => self.short_id.clone(),
            _ => self.id.to_string(),
        }
    }

    /// The `resource_id` of its access-control rows: `str(obj.id)`.
    pub fn resource_id(&self) -> String {
        match self.kind {
            ObjectKind::Notebook => self.uuid.to_string(),
            _ => self.id.to_string(),
        }
    }
}

/// The objects of an organization, with their own id generator so seeding objects does not
/// shift any other seeded id.
#[derive(Debug)]
pub struct Objects {
    items: Vec<Object>,
    ids: IdGen,
    next_id: i64,
}

impl Objects {
    /// No objects yet.
    pub fn new(seed: u64) -> Self {
        Self { items: Vec::new(), ids: IdGen::new(seed ^ 0x00b1_ec75), next_id: 1 }
    }
}

impl Store {
    /// Creates an object; returns its path key.
    pub fn add_object(
        &mut self,
        kind: ObjectKind,
        team_id: i64,
        name: &str,
        created_by: Option<i64>,
        saved: bool,
        at: DateTime<Utc>,
    ) -> String {
        let objects = self.objects_mut();
        let id = objects.next_id;
        objects.next_id += 1;
        let uuid = objects.ids.uuid();
        let short_id = objects.ids.token("", 6).chars().take(8).collect();
        let object = Object { kind, id, uuid, short_id, team_id, name: name.to_owned(), created_by, saved, deleted: false, created_at: at };
        let lookup = object.lookup();
        objects.items.push(object);
        lookup
    }

    /// The live objects of one kind in one project, oldest first.
    pub fn objects(&self, kind: ObjectKind, team_id: i64) -> impl Iterator<Item = &Object> {
        self.objects_ref().items.iter().filter(move |o| o.kind == kind && o.team_id == team_id && !o.deleted)
    }

    /// The live object of `kind` in `team_id` with path key `lookup`.
    pub fn object(&self, kind: ObjectKind, team_id: i64, lookup: &str) -> Option<&Object> {
        self.objects(kind, team_id).find(|o| o.lookup() == lookup)
    }
}

/// The person in Acme Corp whose objects the seed creates, for offboarding demos.
pub const OFFBOARDING_DEMO: &str = "laura";

/// Acme Corp's objects: (project, kind, name, creator, saved).
pub const SEEDED_OBJECTS: &[(&str, ObjectKind, &str, &str, bool)] = &[
    ("Web App", ObjectKind::Dashboard, "Checkout funnel", "laura", true),
    ("Web App", ObjectKind::Dashboard, "Marketing site", "mallory", true),
    ("Web App", ObjectKind::Insight, "Signup conversion", "laura", true),
    ("Web App", ObjectKind::Insight, "Untitled draft", "laura", false),
    ("Web App", ObjectKind::Insight, "Pageviews by browser", "niaj", true),
    ("Web App", ObjectKind::FeatureFlag, "new-checkout", "laura", true),
    ("Web App", ObjectKind::FeatureFlag, "dark-mode", "niaj", true),
    ("Web App", ObjectKind::Notebook, "Checkout experiment notes", "laura", true),
    ("Staging", ObjectKind::Dashboard, "Staging smoke tests", "laura", true),
];

/// Adds [`SEEDED_OBJECTS`].
pub(crate) fn seed(store: &mut Store, anchor: DateTime<Utc>) {
    for (index, (project, kind, name, creator, saved)) in SEEDED_OBJECTS.iter().enumerate() {
        let Some(team) = store.projects().iter().find(|p| p.name == *project).map(|p| p.id) else {
            continue;
        };
        let creator = store.user_by_email(&crate::seed::email(creator)).map(|u| u.id);
        let at = anchor - chrono::Duration::days(40 - i64::try_from(index).unwrap_or_default());
        store.add_object(*kind, team, name, creator, *saved, at);
    }
}

/// One object as tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    /// Its type.
    pub kind: ObjectKind,
    /// Its project.
    pub project_id: i64,
    /// Its path key (id, or a notebook's short id).
    pub lookup: String,
    /// Its name.
    pub name: String,
    /// Insights: saved, or a private draft.
    pub saved: bool,
    /// Creator's email, if the user still exists.
    pub created_by: Option<String>,
}

impl crate::app::SandboxState {
    /// Creates an object as the person with `creator_email`; returns its path key.
    pub fn add_object_as(&self, creator_email: &str, kind: ObjectKind, project_id: i64, name: &str, saved: bool) -> Option<String> {
        let now = self.now();
        let mut store = self.store();
        store.project(project_id)?;
        let creator = store.user_by_email(creator_email)?.id;
        Some(store.add_object(kind, project_id, name, Some(creator), saved, now))
    }

    /// Every live object, in every project.
    pub fn all_objects(&self) -> Vec<ObjectRecord> {
        let store = self.store();
        let projects: Vec<i64> = store.projects().iter().map(|p| p.id).collect();
        let mut out = Vec::new();
        for team in projects {
            for kind in ObjectKind::ALL {
                for o in store.objects(kind, team) {
                    out.push(ObjectRecord {
                        kind,
                        project_id: team,
                        lookup: o.lookup(),
                        name: o.name.clone(),
                        saved: o.saved,
                        created_by: o.created_by.and_then(|id| store.user(id)).map(|u| u.email.clone()),
                    });
                }
            }
        }
        out
    }

    /// The live objects created by the user with this email.
    pub fn objects_created_by(&self, email: &str) -> Vec<ObjectRecord> {
        self.all_objects().into_iter().filter(|o| o.created_by.as_deref() == Some(email)).collect()
    }

    /// The member's explicit row on one object (`"viewer"`, `"editor"`, `"manager"`, `"none"`).
    pub fn object_access(&self, kind: ObjectKind, project_id: i64, lookup: &str, email: &str) -> Option<String> {
        let store = self.store();
        let (_, membership) = store.member_by_email(email).ok()?;
        let member = membership.id;
        let object = store.object(kind, project_id, lookup)?;
        let resource_id = object.resource_id();
        store
            .rules_of_object(project_id, kind.resource(), &resource_id)
            .find(|r| r.organization_member == Some(member) && r.role.is_none())
            .map(|r| r.access_level.as_str().to_owned())
    }
}
