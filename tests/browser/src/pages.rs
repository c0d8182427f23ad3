//! Page objects: one per page of the app, each a thin layer of find / act / check
//! over [`Browser`], using the accessible names in `frontend/UI.md`.

use anyhow::{Context, bail};
use fantoccini::elements::Element;

use crate::browser::Browser;
use crate::locate::Target;

/// The sign-in page and the header that replaces it once signed in.
#[derive(Debug)]
pub struct SignIn<'a>(pub &'a Browser);

impl SignIn<'_> {
    /// Find: the sign-in page is shown.
    pub async fn find_page(&self) -> anyhow::Result<()> {
        self.0.check_shown(Target::Heading("Sign in to Hogwarden")).await
    }

    /// Act: signs in with the local stack's dev sign-in.
    pub async fn act_sign_in_as(&self, email: &str) -> anyhow::Result<()> {
        self.find_page().await?;
        self.0.click(Target::Button(&format!("Sign in as {email}"))).await
    }

    /// Check: the header says who is signed in.
    pub async fn check_signed_in_as(&self, email: &str) -> anyhow::Result<()> {
        self.0.check_shown(Target::Text(&format!("Signed in as {email}"))).await?;
        self.0.check_shown(Target::Button("Sign out")).await
    }
}

/// The main navigation: a few links, and the other pages in disclosure menus
/// (`Manage`, `Security`).
#[derive(Debug)]
pub struct Nav<'a>(pub &'a Browser);

/// The navigation landmark's name.
pub const MAIN_NAV: &str = "Main";

impl Nav<'_> {
    /// Find: the main navigation.
    pub async fn find(&self) -> anyhow::Result<Element> {
        self.0.find(Target::Navigation(MAIN_NAV)).await
    }

    /// Act: follows a link of the main navigation, opening the menu that holds it
    /// first when it is in one, and waits for the page's heading.
    pub async fn act_open(&self, link: &str, heading: &str) -> anyhow::Result<()> {
        let nav = self.find().await?;
        if self.0.visible(Some(&nav), Target::Link(link)).await?.is_empty() {
            self.0.click_within(&nav, Target::MenuFor(link)).await?;
        }
        self.0.click_within(&nav, Target::Link(link)).await?;
        self.0.check_shown(Target::Heading(heading)).await
    }

    /// Every link of the navigation, in order, shown or inside a closed menu.
    pub async fn links(&self) -> anyhow::Result<Vec<String>> {
        self.names(".//a").await
    }

    /// The names of the menu buttons, in order.
    pub async fn menus(&self) -> anyhow::Result<Vec<String>> {
        self.names(".//button[@aria-controls]").await
    }

    async fn names(&self, xpath: &str) -> anyhow::Result<Vec<String>> {
        let nav = self.find().await?;
        let mut names = Vec::new();
        for e in nav.find_all(fantoccini::Locator::XPath(xpath)).await? {
            let text = e.prop("textContent").await?.unwrap_or_default();
            names.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
        }
        Ok(names)
    }

    /// Check: the navigation's links and menu buttons, the signed-in text and the Sign
    /// out button sit on one line (their vertical middles within a few pixels).
    pub async fn check_on_one_line(&self) -> anyhow::Result<()> {
        let nav = self.find().await?;
        let mut items = Vec::new();
        for e in nav.find_all(fantoccini::Locator::XPath("./ul/li/*[self::a or self::button]")).await? {
            let name = e.prop("textContent").await?.unwrap_or_default();
            items.push((name.trim().to_owned(), e));
        }
        let sign_out = self.0.find(Target::Button("Sign out")).await?;
        items.push(("Sign out".to_owned(), sign_out));
        let mut middles = Vec::new();
        for (name, e) in &items {
            let (_, y, _, h) = e.rectangle().await?;
            middles.push((name.clone(), y + h / 2.0));
        }
        let first = middles.first().map(|(_, m)| *m).context("the navigation has no links")?;
        let off: Vec<_> = middles.iter().filter(|(_, m)| (m - first).abs() > 4.0).collect();
        if !off.is_empty() {
            self.0.screenshot("navigation wraps").await?;
            bail!("not on the first link's line: {off:?} (all: {middles:?})");
        }
        Ok(())
    }
}

/// What a person asks for on the Request access page.
#[derive(Debug, Clone)]
pub struct AccessRequest<'a> {
    pub kind: &'a str,
    pub role: &'a str,
    /// `None`: permanent.
    pub duration: Option<(u32, &'a str)>,
    pub reason: &'a str,
    pub ticket: &'a str,
}

/// Request access (`/#/request`).
#[derive(Debug)]
pub struct RequestAccess<'a>(pub &'a Browser);

impl RequestAccess<'_> {
    pub async fn find_page(&self) -> anyhow::Result<Element> {
        self.0.check_shown(Target::Heading("Request access")).await?;
        self.0.find(Target::Form("Access request")).await
    }

    /// Act: fills the form (without sending it).
    pub async fn act_fill(&self, r: &AccessRequest<'_>) -> anyhow::Result<()> {
        self.find_page().await?;
        let b = self.0;
        b.choose("Kind of change", r.kind).await?;
        b.choose("Role", r.role).await?;
        b.set_checked("Temporary access", r.duration.is_some()).await?;
        if let Some((amount, unit)) = r.duration {
            b.fill("Duration", &amount.to_string()).await?;
            b.choose("Duration unit", unit).await?;
        }
        b.fill("Reason", r.reason).await?;
        b.fill("Ticket", r.ticket).await
    }

    /// Act: asks on someone else's behalf (a sponsor for a contractor).
    pub async fn act_sponsor(&self, email: &str) -> anyhow::Result<()> {
        self.0.fill("For", email).await
    }

    /// Act: ticks these projects (for a project role or a removal).
    pub async fn act_tick_projects(&self, names: &[&str]) -> anyhow::Result<()> {
        for n in names {
            self.0.set_checked(n, true).await?;
        }
        Ok(())
    }

    /// Act: temporary access that ends on a fixed day (`YYYY-MM-DD`) instead of after a duration.
    pub async fn act_end_on(&self, date: &str) -> anyhow::Result<()> {
        self.0.set_checked("Temporary access", true).await?;
        self.0.choose("Access ends", "On a date").await?;
        self.0.set_value("End date", date).await
    }

    /// Check: the policy facts the form shows for the chosen change (in the status
    /// region "Policy for this change").
    pub async fn check_policy_says(&self, text: &str) -> anyhow::Result<()> {
        self.0.check_shown(Target::Status(text)).await
    }

    /// Act: sends the form; check: the page confirms it.
    pub async fn act_submit(&self) -> anyhow::Result<String> {
        self.0.click(Target::Button("Submit request")).await?;
        let done = self.0.find(Target::Status("Request submitted")).await?;
        self.0.text_of(&done).await
    }
}

/// My access (`/#/my-access`).
#[derive(Debug)]
pub struct MyAccess<'a>(pub &'a Browser);

pub const ACTIVE_GRANTS: &str = "My active grants";
pub const MY_REQUESTS: &str = "My requests";

impl MyAccess<'_> {
    pub async fn find_page(&self) -> anyhow::Result<()> {
        self.0.check_shown(Target::Heading("My access")).await
    }

    /// Find: the active grant whose Change reads so.
    pub async fn find_grant(&self, change: &str) -> anyhow::Result<Element> {
        self.0.find(Target::Row { table: ACTIVE_GRANTS, containing: change }).await
    }

    /// Check: the grant is active and shows the time it has left; returns that text.
    pub async fn check_grant_active(&self, change: &str) -> anyhow::Result<String> {
        self.find_grant(change).await?;
        let changes = self.0.column(ACTIVE_GRANTS, "Change").await?;
        let left = self.0.column(ACTIVE_GRANTS, "Time left").await?;
        let row = changes.iter().position(|c| c.contains(change)).with_context(|| format!("no grant {change:?} in {changes:?}"))?;
        let left = left.get(row).cloned().unwrap_or_default();
        if !left.ends_with(" left") {
            bail!("the grant {change:?} shows {left:?} as its time left");
        }
        Ok(left)
    }

    /// Act: revokes the grant now; check: the page confirms it and the row goes away.
    pub async fn act_revoke(&self, change: &str) -> anyhow::Result<String> {
        let row = self.find_grant(change).await?;
        self.0.click_within(&row, Target::Button("Revoke now")).await?;
        let done = self.0.find(Target::Status("Revoked:")).await?;
        let text = self.0.text_of(&done).await?;
        self.0.check_gone(Target::Row { table: ACTIVE_GRANTS, containing: change }).await?;
        Ok(text)
    }

    /// The Ends cell of the grant with this change.
    pub async fn grant_ends(&self, change: &str) -> anyhow::Result<String> {
        let changes = self.0.column(ACTIVE_GRANTS, "Change").await?;
        let ends = self.0.column(ACTIVE_GRANTS, "Ends").await?;
        let row = changes.iter().position(|c| c.contains(change)).with_context(|| format!("no grant {change:?} in {changes:?}"))?;
        Ok(ends.get(row).cloned().unwrap_or_default())
    }

    /// Act: asks to extend the grant (keeping the form's proposed new end, a day after the
    /// current one); check: the page confirms the extension request.
    pub async fn act_extend(&self, change: &str, reason: &str) -> anyhow::Result<String> {
        let row = self.find_grant(change).await?;
        self.0.click_within(&row, Target::Button("Extend")).await?;
        let form = self.0.find(Target::Form("Extend access")).await?;
        self.0.fill("Reason for extending", reason).await?;
        self.0.click_within(&form, Target::Button("Request extension")).await?;
        let done = self.0.find(Target::Status("Extension requested")).await?;
        self.0.text_of(&done).await
    }

    /// Act: opens the page of my request with this change (from the My requests table).
    pub async fn act_open_request(&self, change: &str) -> anyhow::Result<()> {
        let row = self.0.find(Target::Row { table: MY_REQUESTS, containing: change }).await?;
        let link = row.find(fantoccini::Locator::XPath(".//a")).await.context("the request's link")?;
        link.click().await?;
        self.0.check_shown(Target::Heading("Request details")).await
    }

    /// Check: the status of my request with this change.
    pub async fn check_request_status(&self, change: &str, status: &str) -> anyhow::Result<()> {
        let changes = self.0.column(MY_REQUESTS, "Change").await?;
        let statuses = self.0.column(MY_REQUESTS, "Status").await?;
        let found: Vec<_> = changes.iter().zip(&statuses).filter(|(c, _)| c.contains(change)).map(|(_, s)| s.clone()).collect();
        if !found.iter().any(|s| s == status) {
            bail!("my request {change:?} has status {found:?}, not {status:?}");
        }
        Ok(())
    }
}

/// The approver inbox (`/#/inbox`).
#[derive(Debug)]
pub struct Inbox<'a>(pub &'a Browser);

impl Inbox<'_> {
    pub async fn find_page(&self) -> anyhow::Result<()> {
        self.0.check_shown(Target::Heading("Inbox")).await
    }

    /// Find: the pending request of this person.
    pub async fn find_request_from(&self, requester: &str) -> anyhow::Result<Element> {
        self.0.find(Target::Article(&format!("Request from {requester}"))).await
    }

    /// Check: the card tells who, what and why.
    pub async fn check_request_reads(&self, card: &Element, texts: &[&str]) -> anyhow::Result<()> {
        let shown = self.0.text_of(card).await?;
        for t in texts {
            if !shown.contains(t) {
                bail!("the inbox card reads {shown:?}, without {t:?}");
            }
        }
        Ok(())
    }

    /// Act: approves the request of this person; check: confirmed and gone from the inbox.
    pub async fn act_approve(&self, requester: &str) -> anyhow::Result<String> {
        let card = self.find_request_from(requester).await?;
        self.0.click_within(&card, Target::Button("Approve")).await?;
        let done = self.0.find(Target::Status("Approved:")).await?;
        let text = self.0.text_of(&done).await?;
        self.0.check_gone(Target::Article(&format!("Request from {requester}"))).await?;
        Ok(text)
    }

    /// Check: my own request is listed but cannot be approved or denied.
    pub async fn check_own_request_not_approvable(&self, me: &str) -> anyhow::Result<()> {
        let card = self.find_request_from(me).await?;
        self.0.find_within(&card, Target::Text("Your request")).await?;
        self.0.find_within(&card, Target::Text("You cannot approve your own request.")).await?;
        self.0.check_absent_within(&card, Target::Button("Approve")).await?;
        self.0.check_absent_within(&card, Target::Button("Deny")).await
    }
}

/// The audit log (`/#/audit`).
#[derive(Debug)]
pub struct AuditLog<'a>(pub &'a Browser);

pub const AUDIT_ENTRIES: &str = "Audit entries";

impl AuditLog<'_> {
    pub async fn find_page(&self) -> anyhow::Result<()> {
        self.0.check_shown(Target::Heading("Audit log")).await?;
        self.0.find(Target::Table(AUDIT_ENTRIES)).await.map(drop)
    }

    /// The Kind column, oldest first (the page lists newest first).
    pub async fn kinds_oldest_first(&self) -> anyhow::Result<Vec<String>> {
        let mut kinds = self.0.column(AUDIT_ENTRIES, "Kind").await?;
        kinds.reverse();
        Ok(kinds)
    }

    /// Check: the chain verifies.
    pub async fn check_chain_verified(&self) -> anyhow::Result<String> {
        let s = self.0.find(Target::Status("Chain verified")).await?;
        self.0.text_of(&s).await
    }
}

/// Bulk changes (`/#/bulk`, admins): plan a change set, submit it, watch it apply.
#[derive(Debug)]
pub struct BulkChanges<'a>(pub &'a Browser);

impl BulkChanges<'_> {
    /// Act: pastes a CSV change set and asks for the plan; returns the plan's summary.
    pub async fn act_plan(&self, csv: &str) -> anyhow::Result<String> {
        self.0.fill("Change set", csv).await?;
        self.0.click(Target::Button("Plan")).await?;
        let summary = self.0.find(Target::Status("Nothing was written")).await?;
        self.0.text_of(&summary).await
    }

    /// Act: submits the planned set; returns the progress text of the set's page it
    /// lands on, where it waits for an approver (it changes other people's access).
    pub async fn act_submit_for_approval(&self) -> anyhow::Result<String> {
        self.0.click(Target::Button("Submit for approval")).await?;
        let progress = self.0.find(Target::Status("Waiting for approval")).await?;
        self.0.text_of(&progress).await
    }

    /// Check: the set's page, which follows the set, shows it approved and applying;
    /// returns the progress text.
    pub async fn check_applying(&self) -> anyhow::Result<String> {
        let progress = self.0.find(Target::Status("items settled")).await?;
        self.0.text_of(&progress).await
    }

    /// Act: applies an approved set and waits for its report; returns the progress text.
    pub async fn act_apply_until_finished(&self) -> anyhow::Result<String> {
        self.0.click(Target::Button("Apply now")).await?;
        let finished = self.0.find(Target::Status("Finished:")).await?;
        self.0.text_of(&finished).await
    }
}

/// One request's page (`/#/requests/{id}`).
#[derive(Debug)]
pub struct RequestDetails<'a>(pub &'a Browser);

impl RequestDetails<'_> {
    pub async fn find_page(&self) -> anyhow::Result<()> {
        self.0.check_shown(Target::Heading("Request details")).await
    }

    /// The security checklist's items, each starting `Done:` or `Missing:`.
    pub async fn checklist(&self) -> anyhow::Result<Vec<String>> {
        self.0.check_shown(Target::Heading("Security checklist")).await?;
        let list = self.0.find(Target::List("Security checklist")).await?;
        let mut items = Vec::new();
        for li in list.find_all(fantoccini::Locator::XPath("./li")).await? {
            items.push(self.0.text_of(&li).await?);
        }
        Ok(items)
    }
}

/// The access diagnosis (`/#/diagnose`).
#[derive(Debug)]
pub struct Diagnose<'a>(pub &'a Browser);

impl Diagnose<'_> {
    /// Act: asks why this person can or cannot see the project; returns the verdict
    /// card's text.
    pub async fn act_diagnose(&self, email: &str, project: &str) -> anyhow::Result<String> {
        self.0.check_shown(Target::Heading("Access diagnosis")).await?;
        self.0.fill("Email", email).await?;
        self.0.choose("Project", project).await?;
        self.0.click(Target::Button("Check access")).await?;
        let card = self.0.find(Target::Article("Diagnosis")).await?;
        self.0.text_of(&card).await
    }
}

/// The offboarding page (`/#/offboarding`).
#[derive(Debug)]
pub struct Offboarding<'a>(pub &'a Browser);

pub const OBJECTS_TO_HAND_OVER: &str = "Objects to hand over";

impl Offboarding<'_> {
    pub async fn find_page(&self) -> anyhow::Result<()> {
        self.0.check_shown(Target::Heading("Offboarding")).await
    }

    /// Act: asks for the preview of offboarding `member` to `new_owner`.
    pub async fn act_preview(&self, member: &str, new_owner: &str) -> anyhow::Result<()> {
        self.0.fill("Departing member", member).await?;
        self.0.fill("New owner", new_owner).await?;
        self.0.click(Target::Button("Preview")).await?;
        self.0.find(Target::Table(OBJECTS_TO_HAND_OVER)).await.map(drop)
    }

    /// Act: submits the previewed offboarding with a reason.
    pub async fn act_submit(&self, reason: &str) -> anyhow::Result<String> {
        self.0.fill("Reason", reason).await?;
        self.0.click(Target::Button("Submit offboarding")).await?;
        let done = self.0.find(Target::Status("submitted")).await?;
        self.0.text_of(&done).await
    }

    /// Act: approves the offboarding of `member` from its card.
    pub async fn act_approve(&self, member: &str) -> anyhow::Result<()> {
        let card = self.0.find(Target::Article(&format!("Offboarding of {member}"))).await?;
        self.0.click_within(&card, Target::Button("Approve offboarding")).await
    }
}

/// The Keys page's consumers (`/#/keys`) and a project token's guided rotation
/// (`/#/keys/rotation/{project}`).
#[derive(Debug)]
pub struct KeyRotation<'a>(pub &'a Browser);

pub const PROJECT_TOKEN_STEPS: &str = "Steps";

impl KeyRotation<'_> {
    /// Act: adds a consumer on the Keys page.
    pub async fn act_add_consumer(&self, key: &str, used_in: &str, place: &str, owner: &str) -> anyhow::Result<()> {
        self.0.choose("Key", key).await?;
        self.0.choose("Used in", used_in).await?;
        self.0.fill("Where", place).await?;
        self.0.fill("Owner's email", owner).await?;
        self.0.click(Target::Button("Add consumer")).await?;
        self.0.find(Target::Row { table: "PostHog keys", containing: place }).await.map(drop)
    }

    /// Act: follows the "Guided rotation" link of the key whose row shows `consumer` (a
    /// consumer's place; the key's name is the row header) and waits for the page.
    pub async fn act_open_rotation(&self, consumer: &str) -> anyhow::Result<()> {
        let row = self.0.find(Target::Row { table: "PostHog keys", containing: consumer }).await?;
        let link = self.0.find_within(&row, Target::Link("Guided rotation")).await?;
        link.click().await?;
        self.0.check_shown(Target::Heading("Project token rotation")).await
    }

    /// Act: starts the rotation (consumers are warned) and waits for its steps.
    pub async fn act_start(&self) -> anyhow::Result<()> {
        self.0.click(Target::Button("Start rotation")).await?;
        self.0.find(Target::Table(PROJECT_TOKEN_STEPS)).await.map(drop)
    }

    /// Act: "Check now", then waits for the heading `heading` (e.g. "Web App (done)").
    pub async fn act_check_now(&self, heading: &str) -> anyhow::Result<()> {
        self.0.click(Target::Button("Check now")).await?;
        self.0.check_shown(Target::Heading(heading)).await
    }

    /// Find: the state of a step ("Waiting" or "Done <time>"), by the start of its name.
    pub async fn find_step_state(&self, step: &str) -> anyhow::Result<String> {
        let steps = self.0.column(PROJECT_TOKEN_STEPS, "Step").await?;
        let states = self.0.column(PROJECT_TOKEN_STEPS, "State").await?;
        let Some(i) = steps.iter().position(|s| s.starts_with(step)) else { bail!("no step \"{step}\" in {steps:?}") };
        states.get(i).cloned().context("the step has no state")
    }
}

/// What the page's Content-Security-Policy lets a script do, tried from inside the page.
#[derive(Debug)]
pub struct PagePolicy<'a>(pub &'a Browser);

impl PagePolicy<'_> {
    /// Check: a script element added to the page with inline code does not run, and
    /// the browser reports the violation of `script-src`.
    pub async fn check_inline_script_blocked(&self) -> anyhow::Result<()> {
        let ran = self
            .0
            .client
            .execute(
                "window.__cspViolations = []; \
                 document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(e.violatedDirective)); \
                 const s = document.createElement('script'); \
                 s.textContent = 'window.__injected = true;'; \
                 document.body.appendChild(s); \
                 return window.__injected === true;",
                vec![],
            )
            .await
            .context("injecting an inline script")?;
        if ran.as_bool() != Some(false) {
            bail!("an injected inline script ran: the page's policy allows inline scripts");
        }
        // Violation events are dispatched as a task after the refusal.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let seen = self.0.client.execute("return window.__cspViolations;", vec![]).await.context("reading violations")?;
            let directives: Vec<&str> = seen.as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
            if directives.iter().any(|d| d.starts_with("script-src")) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!("the inline script did not run, but no script-src violation was reported (saw {directives:?})");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Check: an inline event handler in injected markup does not run (the markup an
    /// XSS would inject), and the browser reports the violation. (`eval` cannot be
    /// tried from here: WebDriver's own scripts are exempt from the page's policy.)
    pub async fn check_inline_handler_blocked(&self) -> anyhow::Result<()> {
        self.0
            .client
            .execute(
                "window.__cspViolations = []; \
                 document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(e.violatedDirective)); \
                 const d = document.createElement('div'); \
                 d.innerHTML = '<img alt=\"\" src=\"/no-such-image.png\" onerror=\"window.__handlerRan = true\">'; \
                 document.body.appendChild(d);",
                vec![],
            )
            .await
            .context("injecting markup with an inline event handler")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let seen = self
                .0
                .client
                .execute("return [window.__handlerRan === true, window.__cspViolations];", vec![])
                .await
                .context("reading violations")?;
            if seen[0].as_bool() == Some(true) {
                bail!("an injected inline event handler ran: the page's policy allows inline scripts");
            }
            let directives: Vec<&str> = seen[1].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
            if directives.iter().any(|d| d.starts_with("script-src")) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!("no script-src violation was reported for an inline event handler (saw {directives:?})");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
