//! `hogwarden bulk plan FILE`: sends a change set to a running Hogwarden (the local
//! stack or the AWS API) and prints the plan, row by row. It is an API client, so it
//! needs no database or PostHog key of its own.

use std::path::PathBuf;

use anyhow::{Context, bail};
use hogwarden_api_types as dto;

/// Where to send the change set and as whom.
#[derive(Debug, clap::Args)]
pub struct BulkTarget {
    /// Hogwarden's base URL.
    #[arg(long, env = "HOGWARDEN_URL", default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// A bearer token (from your identity provider); never printed.
    #[arg(long, env = "HOGWARDEN_TOKEN", hide_env_values = true, conflicts_with = "as_user")]
    pub token: Option<String>,
    /// Sign in to the local stack as this demo user instead of giving a token.
    #[arg(long = "as")]
    pub as_user: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum BulkCommand {
    /// Compare a change set (CSV with header email,project,role,end_date, or a JSON array)
    /// with PostHog and print each row's change, no-op or error. Writes nothing.
    Plan {
        file: PathBuf,
        #[command(flatten)]
        target: BulkTarget,
    },
}

/// Runs the command; the exit code is 0 for a clean plan and 3 when rows have errors.
pub async fn run(command: BulkCommand) -> anyhow::Result<i32> {
    match command {
        BulkCommand::Plan { file, target } => plan(&file, &target).await,
    }
}

async fn plan(file: &PathBuf, target: &BulkTarget) -> anyhow::Result<i32> {
    let content = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let format = if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) { "json" } else { "csv" };
    let http = reqwest::Client::new();
    let base = target.api.trim_end_matches('/');
    let token = token(&http, base, target).await?;
    let res = http
        .post(format!("{base}/api/bulk/plan"))
        .bearer_auth(token)
        .json(&dto::BulkPlanBody { format: format.into(), content })
        .send()
        .await
        .with_context(|| format!("Hogwarden does not answer at {base}"))?;
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    if !status.is_success() {
        let message = serde_json::from_str::<dto::ErrorBody>(&text).map(|e| e.error.message).unwrap_or(text);
        bail!("Hogwarden refused the change set ({status}): {message}");
    }
    let plan: dto::BulkPlanDto = serde_json::from_str(&text).context("reading the plan")?;
    print!("{}", render(&plan));
    Ok(if plan.errors > 0 { 3 } else { 0 })
}

async fn token(http: &reqwest::Client, base: &str, target: &BulkTarget) -> anyhow::Result<String> {
    if let Some(t) = &target.token {
        return Ok(t.clone());
    }
    let Some(user) = &target.as_user else {
        bail!("say who you are: --token (or HOGWARDEN_TOKEN), or --as EMAIL for a demo user of the local stack");
    };
    let res = http.post(format!("{base}/auth/dev-login")).json(&dto::DevLoginBody { email: user.clone() }).send().await?;
    if !res.status().is_success() {
        bail!("the dev sign-in as {user} failed ({}); it exists only on the local stack", res.status());
    }
    Ok(res.json::<dto::TokenResponse>().await?.access_token)
}

/// The plan as a table a person reads top to bottom.
pub fn render(plan: &dto::BulkPlanDto) -> String {
    let mut out = format!("{:>5}  {:<7}  {:<28}  {:<14}  {:<9} -> {:<9}  note\n", "line", "action", "email", "target", "now", "then");
    for i in &plan.items {
        let action = match i.action.as_str() {
            "change" => "change",
            "no_op" => "no-op",
            _ => "ERROR",
        };
        let note = match (&i.message, i.ends_at) {
            (Some(m), _) => m.clone(),
            (None, Some(end)) => format!("until {}", end.format("%Y-%m-%d %H:%M UTC")),
            (None, None) => String::new(),
        };
        out.push_str(&format!(
            "{:>5}  {:<7}  {:<28}  {:<14}  {:<9} -> {:<9}  {note}\n",
            i.line,
            action,
            i.email,
            i.target,
            i.current.as_deref().unwrap_or("-"),
            i.desired.as_deref().unwrap_or("-"),
        ));
    }
    out.push_str(&format!("{} changes, {} no-ops, {} errors. Nothing was written.\n", plan.changes, plan.no_ops, plan.errors));
    out
}
