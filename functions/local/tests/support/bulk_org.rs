//! A PostHog sandbox with enough people for a 1,000-row change set, and the change set:
//! every added person gets a role in each of the four projects (member or admin, so
//! each row is one PostHog write), one row per person and project.

use posthog_sandbox::{NewMember, OrgLevel, SandboxHandle};

/// Adds `people` members `bulk0000@example.com`, … to the sandbox.
pub fn add_people(sandbox: &SandboxHandle, people: usize) {
    for i in 0..people {
        sandbox
            .add_member(NewMember { email: email(i), first_name: format!("Bulk{i}"), last_name: "Tester".into(), level: OrgLevel::Member })
            .expect("adding a sandbox member");
    }
}

pub fn email(i: usize) -> String {
    format!("bulk{i:04}@example.com")
}

/// A CSV of `rows` rows (at most four per person added), and what each row asks for:
/// (email, project name, role).
pub fn change_set(rows: usize) -> (String, Vec<(String, &'static str, &'static str)>) {
    const PROJECTS: [&str; 4] = ["Production", "Staging", "Web App", "Mobile App"];
    let mut csv = String::from("email,project,role,end_date\n");
    let mut wanted = Vec::with_capacity(rows);
    for r in 0..rows {
        let (person, project) = (r / 4, PROJECTS[r % 4]);
        let role = if r % 3 == 0 { "admin" } else { "member" };
        csv.push_str(&format!("{},{project},{role},\n", email(person)));
        wanted.push((email(person), project, role));
    }
    (csv, wanted)
}
