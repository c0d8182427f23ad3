//! `hogwarden bulk plan FILE` and `hogwarden bulk apply FILE`: send a change set to a
//! running Hogwarden (the local stack or the AWS API). `plan` prints each row's change,
//! no-op or error; `apply` submits the set as one access request (or finds the set
//! already made from the same file), waits for its approval if asked to, drives the
//! apply in short runs with a progress bar, and prints the report. It is an API client,
//! so it needs no database or PostHog key of its own; if it (or Hogwarden) stops, the
//! same command resumes the same set.

use std::path::PathBuf;

use anyhow::{Context, bail};
use hogwarden_api_types as dto;

/// Where to send the change set and as whom.
#[derive(Debug, clap::Args)]
pub struct BulkTarget {
    /// Hogwarden's base URL.
    #[arg(long, env = "HOGWARDEN_URL", default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// Refused: a token on the command line can be read by every user of the machine.
    /// The token comes from HOGWARDEN_TOKEN.
    #[arg(long = "token", hide = true, num_args = 0..=1, default_missing_value = "")]
    pub token_flag: Option<String>,
    /// Sign in to the local stack as this demo user instead of giving a token
    /// (HOGWARDEN_TOKEN: a bearer token from your identity provider; never printed).
    #[arg(long = "as")]
    pub as_user: Option<String>,
}

/// The variable holding the bulk commands' bearer token.
pub const TOKEN_VAR: &str = "HOGWARDEN_TOKEN";

#[derive(Debug, clap::Subcommand)]
pub enum BulkCommand {
    /// Compare a change set (CSV with header email,project,role,end_date, or a JSON array)
    /// with PostHog and print each row's change, no-op or error. Writes nothing.
    Plan {
        file: PathBuf,
        #[command(flatten)]
        target: BulkTarget,
    },
    /// Submit a change set as one access request (or resume the one made from the same
    /// file), apply it within PostHog's rate limit with a progress bar, and print the report.
    Apply {
        file: PathBuf,
        #[command(flatten)]
        target: BulkTarget,
        /// Why the changes are needed (recorded on the request).
        #[arg(long)]
        reason: Option<String>,
        /// Wait for the approval instead of stopping when the set needs one.
        #[arg(long)]
        wait: bool,
        /// Seconds each apply call may run on the server (1–25).
        #[arg(long, default_value_t = 5)]
        step_seconds: u64,
        /// How long to keep retrying while Hogwarden does not answer (e.g. a restart).
        #[arg(long, default_value_t = 120)]
        retry_seconds: u64,
    },
}

/// Runs the command. Exit codes: 0 clean; 3 rows with errors (plan) or failed items
/// (apply); 4 the set waits for approval (apply without `--wait`).
/// Refuses a token given as a flag, before anything is read or sent.
fn refuse_token_flag(target: &BulkTarget) -> anyhow::Result<()> {
    if target.token_flag.is_some() {
        bail!(
            "--token is not accepted: a token on the command line can be read by every user of this machine (ps, shell history). Put it in {TOKEN_VAR} instead."
        );
    }
    Ok(())
}

pub async fn run(command: BulkCommand) -> anyhow::Result<i32> {
    let (BulkCommand::Plan { target, .. } | BulkCommand::Apply { target, .. }) = &command;
    refuse_token_flag(target)?;
    match command {
        BulkCommand::Plan { file, target } => plan(&file, &target).await,
        BulkCommand::Apply { file, target, reason, wait, step_seconds, retry_seconds } => {
            let options = ApplyOptions { reason, wait, step_seconds, retry: std::time::Duration::from_secs(retry_seconds) };
            apply(&file, &target, &options).await
        }
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
    refuse_token_flag(target)?;
    let Some(user) = &target.as_user else {
        return match std::env::var(TOKEN_VAR).ok().filter(|t| !t.trim().is_empty()) {
            Some(t) => Ok(t),
            None => bail!(
                "say who you are: set {TOKEN_VAR} to a token from your identity provider, or --as EMAIL for a demo user of the local stack"
            ),
        };
    };
    let res = http.post(format!("{base}/auth/dev-login")).json(&dto::DevLoginBody { email: user.clone() }).send().await?;
    let status = res.status();
    if !status.is_success() {
        let text = res.text().await.unwrap_or_default();
        let why = serde_json::from_str::<dto::ErrorBody>(&text).map(|e| e.error.message).unwrap_or_default();
        bail!("the dev sign-in as {user} failed ({status}); it exists only on the local stack. {why}");
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

/// How `apply` behaves.
#[derive(Debug, Clone)]
struct ApplyOptions {
    reason: Option<String>,
    wait: bool,
    step_seconds: u64,
    retry: std::time::Duration,
}

/// An API client that keeps trying while Hogwarden does not answer (a restart), and
/// gives up with the last error after `retry`.
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    retry: std::time::Duration,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&serde_json::Value>) -> anyhow::Result<(u16, String)> {
        let started = std::time::Instant::now();
        loop {
            let mut req = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.token);
            if let Some(b) = body {
                req = req.json(b);
            }
            match req.send().await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let text = res.text().await.unwrap_or_default();
                    // A gateway or a stack starting up answers 502/503 for a moment.
                    if !matches!(status, 502..=504) || started.elapsed() >= self.retry {
                        return Ok((status, text));
                    }
                }
                Err(e) if started.elapsed() >= self.retry => {
                    return Err(anyhow::anyhow!("Hogwarden does not answer at {} ({e})", self.base));
                }
                Err(_) => {}
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

fn refused(status: u16, text: &str) -> anyhow::Error {
    let message = serde_json::from_str::<dto::ErrorBody>(text).map(|e| e.error.message).unwrap_or_else(|_| text.to_owned());
    anyhow::anyhow!("Hogwarden refused ({status}): {message}")
}

async fn apply(file: &PathBuf, target: &BulkTarget, options: &ApplyOptions) -> anyhow::Result<i32> {
    let content = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let format = if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) { "json" } else { "csv" };
    let http = reqwest::Client::new();
    let base = target.api.trim_end_matches('/').to_owned();
    let token = token(&http, &base, target).await?;
    let client = Client { http, base, token, retry: options.retry };

    let body = serde_json::to_value(dto::BulkSubmitBody { format: format.into(), content, reason: options.reason.clone() })?;
    let (status, text) = client.call(reqwest::Method::POST, "/api/bulk/sets", Some(&body)).await?;
    if !(200..300).contains(&status) {
        return Err(refused(status, &text));
    }
    let mut set: dto::BulkSetDto = serde_json::from_str(&text).context("reading the change set")?;
    if status == 201 {
        println!("Submitted change set {} ({} items) as one access request.", set.id, set.total);
    } else {
        println!("Resuming change set {} made earlier from the same file.", set.id);
    }

    while set.phase == "awaiting_approval" {
        if !options.wait {
            println!(
                "It waits for approval ({} of {}): {}/#/bulk/{}. Run the same command again once it is approved (or add --wait).",
                set.approvals, set.approvals_required, client.base, set.id
            );
            return Ok(4);
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        set = get_set(&client, &set.id, "none").await?;
    }
    if set.phase == "cancelled" {
        bail!("the change set's request was {}; nothing was applied", set.request_status);
    }

    let bar = indicatif::ProgressBar::new(set.total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} items  {per_sec}  eta {eta}  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(settled(&set));
    let path = format!("/api/bulk/sets/{}/apply?budget_seconds={}", set.id, options.step_seconds.clamp(1, 25));
    while set.phase != "finished" {
        let before = settled(&set);
        let (status, text) = client.call(reqwest::Method::POST, &path, None).await?;
        if status != 200 {
            bar.abandon();
            return Err(refused(status, &text));
        }
        set = serde_json::from_str(&text).context("reading the progress")?;
        bar.set_position(settled(&set));
        bar.set_message(format!("{} done, {} no-ops, {} failed", set.done, set.no_op, set.failed));
        if settled(&set) == before && set.phase != "finished" {
            // Another run holds the set (the server's timer, or a run that crashed and
            // whose claim has not lapsed yet): watch instead of asking again at once.
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
    bar.finish_and_clear();
    let report = get_set(&client, &set.id, "failed").await?;
    print!("{}", render_report(&report));
    Ok(if report.failed > 0 { 3 } else { 0 })
}

async fn get_set(client: &Client, id: &str, items: &str) -> anyhow::Result<dto::BulkSetDto> {
    let (status, text) = client.call(reqwest::Method::GET, &format!("/api/bulk/sets/{id}?items={items}"), None).await?;
    if status != 200 {
        return Err(refused(status, &text));
    }
    serde_json::from_str(&text).context("reading the change set")
}

fn settled(set: &dto::BulkSetDto) -> u64 {
    (set.done + set.failed + set.no_op) as u64
}

/// The final report: counts, the rate, and every failed item with its line.
pub fn render_report(set: &dto::BulkSetDto) -> String {
    let mut out = format!(
        "Change set {}: {} items: {} done, {} no-ops, {} failed, {} not settled.\n",
        set.id,
        set.total,
        set.done,
        set.no_op,
        set.failed,
        set.pending + set.in_flight
    );
    if let (Some(start), Some(end)) = (set.started_at, set.finished_at) {
        let secs = (end - start).num_milliseconds() as f64 / 1000.0;
        out.push_str(&format!("Applied in {secs:.1} s ({:.2} items/s).\n", set.rate_per_second.unwrap_or_default()));
    }
    for i in set.items.iter().filter(|i| i.status == "failed") {
        out.push_str(&format!(
            "  line {:>5}  {:<28}  {:<14}  -> {:<9}  FAILED: {}\n",
            i.line,
            i.email,
            i.target,
            i.desired,
            i.error.as_deref().unwrap_or("")
        ));
    }
    out
}
