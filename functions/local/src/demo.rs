//! The demo users the local dev sign-in offers, with their Hogwarden roles. They are
//! people of the sandbox's "Acme Corp" organization (the guide's demo org).

use hogwarden_core::types::Role;

#[derive(Debug, Clone)]
pub struct DemoUser {
    pub email: &'static str,
    pub name: &'static str,
    pub roles: &'static [Role],
}

pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser { email: "alice@example.com", name: "Alice (approver, admin)", roles: &[Role::Requester, Role::Approver, Role::Admin] },
    DemoUser { email: "bob@example.com", name: "Bob (approver)", roles: &[Role::Requester, Role::Approver] },
    DemoUser { email: "frank@example.com", name: "Frank (member)", roles: &[Role::Requester] },
    DemoUser { email: "grace@example.com", name: "Grace (member)", roles: &[Role::Requester] },
];

pub fn find(email: &str) -> Option<&'static DemoUser> {
    let email = email.trim().to_ascii_lowercase();
    DEMO_USERS.iter().find(|u| u.email == email)
}

/// The demo users with the approver role, as the policy's list of approvers to tell.
pub fn approvers() -> Vec<hogwarden_core::types::Email> {
    DEMO_USERS
        .iter()
        .filter(|u| u.roles.contains(&Role::Approver))
        .filter_map(|u| hogwarden_core::types::Email::parse(u.email).ok())
        .collect()
}
