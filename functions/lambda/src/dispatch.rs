//! One entry point per Lambda for every event it can receive. API Gateway HTTP API
//! requests go through lambda_http's own request and response types to the
//! function's axum router, exactly as `lambda_http::run` would; EventBridge
//! Scheduler inputs (the schedule's `Input` JSON, no envelope) run a scheduled task.
//! The shape decides: an event with `requestContext` is HTTP, one with `task` is a
//! schedule, anything else is refused.

use std::sync::Arc;

use axum::Router;
use chrono::{DateTime, Utc};
use hogwarden_core::Hogwarden;
use hogwarden_core::keys::RotationStep;
use hogwarden_core::usecases::KeyRotation;
use lambda_http::request::LambdaRequest;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::ServiceExt;
use tracing::Instrument;

use crate::claims::copy_gateway_claims;
use crate::stack::AwsStack;

/// The scheduled tasks, by the name infra/template.yaml puts in each schedule's Input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Revert due grants, expire unanswered requests, retry approved ones (reverts).
    Sweep,
    /// Open the quarterly access review (reviews).
    QuarterlyReview,
    /// Check that Hogwarden's PostHog key still works (key-rotation).
    KeyCheck,
    /// Remind holders and sponsors of access ending soon, and approvers of requests
    /// about to expire unanswered (reverts).
    Remind,
    /// Apply approved bulk change sets, resuming where the last run stopped, within
    /// the invocation's time budget (reverts).
    BulkApply,
    /// Remind reviewers of open access review items (reviews).
    ReviewReminders,
    /// Compare PostHog's access with Hogwarden's ledger (reviews).
    DriftCheck,
    /// Move open guided project-token rotations on: detect the reset, store and verify
    /// the new token, tell consumers (key-rotation).
    TokenRotationCheck,
}

impl Task {
    pub const ALL: [Task; 8] = [
        Task::Sweep,
        Task::QuarterlyReview,
        Task::KeyCheck,
        Task::Remind,
        Task::BulkApply,
        Task::ReviewReminders,
        Task::DriftCheck,
        Task::TokenRotationCheck,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Task::Sweep => "sweep",
            Task::QuarterlyReview => "quarterly_review",
            Task::KeyCheck => "key_check",
            Task::Remind => "remind",
            Task::BulkApply => "bulk_apply",
            Task::ReviewReminders => "review_reminders",
            Task::DriftCheck => "drift_check",
            Task::TokenRotationCheck => "token_rotation_check",
        }
    }

    pub fn parse(name: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// What EventBridge Scheduler delivers: the schedule's Input with
/// `<aws.scheduler.scheduled-time>` and `<aws.scheduler.execution-id>` substituted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledInput {
    pub task: String,
    pub scheduled_time: DateTime<Utc>,
    pub execution_id: String,
}

/// Why an invocation failed. Lambda reports it (and, for asynchronous invocations
/// such as schedules, retries and then sends the event to the DLQ). No secrets.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(
        "this event is neither an API Gateway HTTP API request nor a scheduled task input (top-level fields: {fields}); check the function's triggers"
    )]
    UnknownEvent { fields: String },
    #[error("the API Gateway HTTP API event could not be read: {0}")]
    BadHttpEvent(String),
    #[error(
        "the scheduled input is not valid ({0}); a schedule's Input must be {{\"task\":\"...\",\"scheduled_time\":\"<aws.scheduler.scheduled-time>\",\"execution_id\":\"<aws.scheduler.execution-id>\"}}"
    )]
    BadScheduledInput(String),
    #[error(
        "the Secrets Manager rotation event is not valid ({0}); it must be {{\"Step\":\"createSecret|setSecret|testSecret|finishSecret\",\"SecretId\":\"...\",\"ClientRequestToken\":\"...\"}}"
    )]
    BadRotationEvent(String),
    #[error("this function does not rotate secrets; point the secret's rotation at the key-rotation function")]
    NotARotationFunction,
    #[error(
        "the {step} step of the rotation of {secret} failed: {source}; AWSCURRENT is unchanged and Secrets Manager's next attempt resumes"
    )]
    RotationFailed { step: &'static str, secret: String, source: hogwarden_core::Error },
    #[error("unknown scheduled task '{task}'; this function runs: {runs}")]
    UnknownTask { task: String, runs: String },
    #[error("the {task} task failed: {source}; nothing was lost, its next run retries")]
    TaskFailed { task: &'static str, source: hogwarden_core::Error },
    #[error(
        "the sweep left work undone ({deferred} reverts deferred, {errors} errors, details in the log); it stays due and the next run retries"
    )]
    SweepIncomplete { deferred: usize, errors: usize },
    #[error(
        "{blocked} due reverts are held back because PostHog writes are paused: temporary access is outliving its end. An admin must store a new service key on the Keys page; the reverts run on the next sweep after that"
    )]
    RevertsBlockedByPause { blocked: usize },
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let kind = match &e {
            HandlerError::UnknownEvent { .. } => "UnknownEvent",
            HandlerError::BadHttpEvent(_) => "BadHttpEvent",
            HandlerError::BadScheduledInput(_) => "BadScheduledInput",
            HandlerError::UnknownTask { .. } => "UnknownTask",
            HandlerError::BadRotationEvent(_) => "BadRotationEvent",
            HandlerError::NotARotationFunction => "NotARotationFunction",
            HandlerError::RotationFailed { .. } => "RotationFailed",
            HandlerError::TaskFailed { .. } => "TaskFailed",
            HandlerError::SweepIncomplete { .. } => "SweepIncomplete",
            HandlerError::RevertsBlockedByPause { .. } => "RevertsBlockedByPause",
        };
        Diagnostic { error_type: format!("Hogwarden.{kind}"), error_message: e.to_string() }
    }
}

/// One Lambda function: its HTTP routes and the scheduled tasks it runs.
#[derive(Debug, Clone)]
pub struct Handler {
    router: Router,
    app: Hogwarden,
    tasks: Vec<Task>,
    /// Set on the key-rotation function: Secrets Manager's rotation events run here.
    rotation: Option<KeyRotation>,
    /// Set on the key-rotation function: its key check also looks for project-token resets.
    token_rotations: Option<hogwarden_core::usecases::TokenRotations>,
}

impl Handler {
    pub fn new(router: Router, app: Hogwarden, tasks: &[Task]) -> Self {
        Self { router, app, tasks: tasks.to_vec(), rotation: None, token_rotations: None }
    }

    /// Requests, approvals, the inbox, grants and the audit log; no schedule.
    pub fn grants(stack: &AwsStack) -> Self {
        Self::new(hogwarden_api::grants_router(stack.api.clone()), stack.app.clone(), &[])
    }

    /// Early revoke over HTTP, and the expiry sweep and reminders on schedule.
    pub fn reverts(stack: &AwsStack) -> Self {
        Self::new(hogwarden_api::reverts_router(stack.api.clone()), stack.app.clone(), &[Task::Sweep, Task::Remind, Task::BulkApply])
    }

    /// Who has what over HTTP, and the quarterly access snapshot on schedule.
    pub fn reviews(stack: &AwsStack) -> Self {
        Self::new(
            hogwarden_api::reviews_router(stack.api.clone()),
            stack.app.clone(),
            &[Task::QuarterlyReview, Task::ReviewReminders, Task::DriftCheck],
        )
    }

    /// The keys Hogwarden holds over HTTP, the service-key check on schedule, and
    /// Secrets Manager's rotation steps for project secret keys.
    pub fn key_rotation(stack: &AwsStack) -> Self {
        let mut handler =
            Self::new(hogwarden_api::keys_router(stack.api.clone()), stack.app.clone(), &[Task::KeyCheck, Task::TokenRotationCheck]);
        handler.rotation = Some(stack.rotation.clone());
        handler.token_rotations = Some(stack.token_rotations.clone());
        handler
    }

    /// Handles one invocation, whatever its source.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let LambdaEvent { payload, context } = event;
        let span = tracing::info_span!("invocation", request_id = %context.request_id);
        async move {
            let result = if payload.get("requestContext").is_some() {
                self.http(&payload, context).await
            } else if payload.get("task").is_some() {
                self.scheduled(payload).await
            } else if payload.get("Step").is_some() && payload.get("SecretId").is_some() {
                self.rotation_step(payload).await
            } else {
                let fields = match &payload {
                    Value::Object(map) => map.keys().take(10).map(String::as_str).collect::<Vec<_>>().join(", "),
                    other => format!("none, it is a JSON {}", json_kind(other)),
                };
                Err(HandlerError::UnknownEvent { fields })
            };
            if let Err(e) = &result {
                tracing::error!(error = %e, "invocation failed");
            }
            result
        }
        .instrument(span)
        .await
    }

    /// API Gateway HTTP API (payload 2.0): lambda_http's request, the router, and
    /// lambda_http's response, as `lambda_http::run` does.
    async fn http(&self, payload: &Value, context: Context) -> Result<Value, HandlerError> {
        // lambda_http reads events through `RawValue`, which needs JSON text.
        let request: LambdaRequest = serde_json::from_str(&payload.to_string()).map_err(|e| HandlerError::BadHttpEvent(e.to_string()))?;
        let router = self.router.clone();
        let service = lambda_http::service_fn(move |request: lambda_http::Request| router.clone().oneshot(copy_gateway_claims(request)));
        let response =
            lambda_http::Adapter::from(service).oneshot(LambdaEvent::new(request, context)).await.unwrap_or_else(|never| match never {});
        serde_json::to_value(response).map_err(|e| HandlerError::BadHttpEvent(format!("the response could not be encoded: {e}")))
    }

    async fn scheduled(&self, payload: Value) -> Result<Value, HandlerError> {
        let input: ScheduledInput = serde_json::from_value(payload).map_err(|e| HandlerError::BadScheduledInput(e.to_string()))?;
        let task = Task::parse(&input.task).filter(|t| self.tasks.contains(t)).ok_or_else(|| HandlerError::UnknownTask {
            task: input.task.chars().take(64).collect(),
            runs: if self.tasks.is_empty() {
                "no scheduled task".into()
            } else {
                self.tasks.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
            },
        })?;
        tracing::info!(task = task.name(), scheduled_time = %input.scheduled_time, execution_id = %input.execution_id, "scheduled task");
        let outcome = match task {
            Task::Sweep => self.sweep().await?,
            Task::QuarterlyReview => self.quarterly_review(input.scheduled_time).await?,
            Task::ReviewReminders => self.review_reminders().await?,
            Task::DriftCheck => self.drift_check().await?,
            Task::TokenRotationCheck => self.token_rotation_check().await?,
            Task::KeyCheck => self.key_check().await?,
            Task::Remind => self.remind().await?,
            Task::BulkApply => self.bulk_apply().await?,
        };
        Ok(serde_json::json!({
            "task": task.name(),
            "scheduled_time": input.scheduled_time,
            "execution_id": input.execution_id,
            "outcome": outcome,
        }))
    }

    /// One slice of every approved bulk change set: the reverts function may run 60 s,
    /// so a slice stops after 40 and the next schedule (or an API apply call) resumes.
    async fn bulk_apply(&self) -> Result<Value, HandlerError> {
        const BUDGET: std::time::Duration = std::time::Duration::from_secs(40);
        let report = self.app.bulk_resume_all(BUDGET).await.map_err(|source| HandlerError::TaskFailed { task: "bulk_apply", source })?;
        tracing::info!(sets = report.sets, finished = report.finished, errors = ?report.errors, "bulk change sets");
        serde_json::to_value(&report)
            .map_err(|e| HandlerError::TaskFailed { task: "bulk_apply", source: hogwarden_core::Error::Storage(e.to_string()) })
    }

    async fn remind(&self) -> Result<Value, HandlerError> {
        let report = self.app.remind().await.map_err(|source| HandlerError::TaskFailed { task: "remind", source })?;
        tracing::info!(grants = report.grants, requests = report.requests, errors = ?report.errors, "reminders");
        serde_json::to_value(&report)
            .map_err(|e| HandlerError::TaskFailed { task: "remind", source: hogwarden_core::Error::Storage(e.to_string()) })
    }

    async fn sweep(&self) -> Result<Value, HandlerError> {
        let report = self.app.sweep().await.map_err(|source| HandlerError::TaskFailed { task: "sweep", source })?;
        tracing::info!(
            reverted = report.reverted,
            conflicts = report.conflicts,
            deferred = report.deferred,
            expired_requests = report.expired_requests,
            applied_retries = report.applied_retries,
            writes_paused = report.writes_paused,
            blocked_by_pause = report.blocked_by_pause,
            errors = ?report.errors,
            "sweep report"
        );
        // A Lambda error is what the CloudWatch alarm sees: reverts the pause holds back
        // fail the invocation every sweep until the pause lifts.
        if report.blocked_by_pause > 0 {
            return Err(HandlerError::RevertsBlockedByPause { blocked: report.blocked_by_pause });
        }
        if !report.is_clean() {
            return Err(HandlerError::SweepIncomplete { deferred: report.deferred, errors: report.errors.len() });
        }
        Ok(serde_json::to_value(&report).unwrap_or(Value::Null))
    }
}

impl Handler {
    /// Opens the quarter's access review with its snapshot of who has what (recorded
    /// in the audit log). Once per quarter: a retried or repeated schedule finds the
    /// campaign (a conditional write) and records nothing twice.
    async fn quarterly_review(&self, scheduled_time: DateTime<Utc>) -> Result<Value, HandlerError> {
        let (campaign, opened) = self
            .app
            .open_scheduled_campaign(scheduled_time)
            .await
            .map_err(|source| HandlerError::TaskFailed { task: "quarterly_review", source })?;
        let s = &campaign.summary;
        let outcome = serde_json::json!({
            "campaign": campaign.id,
            "opened": opened,
            "members": s.total_members,
            "owners": s.owners.len(),
            "admins": s.admins.len(),
            "org_members": s.members.len() + s.viewers.len(),
            "viewers": s.viewers.len(),
            "projects": s.projects.len(),
            "items": campaign.item_count,
        });
        tracing::info!(counts = %outcome, "quarterly access review");
        Ok(outcome)
    }

    async fn review_reminders(&self) -> Result<Value, HandlerError> {
        let report = self.app.remind_reviewers().await.map_err(|source| HandlerError::TaskFailed { task: "review_reminders", source })?;
        Ok(serde_json::json!({ "campaigns": report.campaigns, "reviewers_told": report.reviewers_told }))
    }

    async fn drift_check(&self) -> Result<Value, HandlerError> {
        let report = self.app.check_drift().await.map_err(|source| HandlerError::TaskFailed { task: "drift_check", source })?;
        if !report.findings.is_empty() {
            tracing::warn!(findings = report.findings.len(), "access differs from Hogwarden's ledger");
        }
        Ok(serde_json::json!({ "baseline_taken": report.baseline_taken, "findings": report.findings.len() }))
    }

    /// Asks PostHog whether Hogwarden's key still works. A rejected key is an answer
    /// (audited, security contacts told, logged at error level for the alarm), not a
    /// failed invocation: a retry would only repeat the audit entry and the message.
    async fn key_check(&self) -> Result<Value, HandlerError> {
        let check = self.app.check_service_key().await.map_err(|source| HandlerError::TaskFailed { task: "key_check", source })?;
        if check.accepted {
            tracing::info!(fingerprint = %check.fingerprint, "PostHog accepts Hogwarden's key");
        } else {
            tracing::error!(fingerprint = %check.fingerprint, "PostHog rejects Hogwarden's key; an admin must store a new one");
        }
        Ok(serde_json::json!({ "fingerprint": check.fingerprint, "accepted": check.accepted }))
    }

    /// Moves every open guided project-token rotation on (each step a guarded write, so a
    /// retried or overlapping run changes nothing twice).
    async fn token_rotation_check(&self) -> Result<Value, HandlerError> {
        let Some(guided) = &self.token_rotations else {
            return Ok(serde_json::json!({ "finished": 0 }));
        };
        let finished = guided.check_all().await.map_err(|source| HandlerError::TaskFailed { task: "token_rotation_check", source })?;
        Ok(serde_json::json!({ "finished": finished }))
    }
}

/// Secrets Manager's rotation event (`SecretsManagerSecretRotationEvent`, plus the
/// `RotationToken` current AWS docs add for cross-account rotation).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RotationEvent {
    step: String,
    secret_id: String,
    client_request_token: String,
    #[serde(default)]
    #[allow(dead_code)]
    rotation_token: Option<String>,
}

impl Handler {
    async fn rotation_step(&self, payload: Value) -> Result<Value, HandlerError> {
        let rotation = self.rotation.as_ref().ok_or(HandlerError::NotARotationFunction)?;
        let event: RotationEvent = serde_json::from_value(payload).map_err(|e| HandlerError::BadRotationEvent(e.to_string()))?;
        let step = RotationStep::parse(&event.step)
            .ok_or_else(|| HandlerError::BadRotationEvent(format!("unknown step '{}'", event.step.chars().take(32).collect::<String>())))?;
        if event.client_request_token.is_empty() || event.client_request_token.len() > 64 {
            return Err(HandlerError::BadRotationEvent("ClientRequestToken must be 1 to 64 characters".into()));
        }
        tracing::info!(step = step.as_str(), secret = %event.secret_id, token = %event.client_request_token, "rotation step");
        let outcome = rotation
            .step(&event.secret_id, step, &event.client_request_token)
            .await
            .map_err(|source| HandlerError::RotationFailed { step: step.as_str(), secret: event.secret_id.clone(), source })?;
        Ok(serde_json::json!({ "step": step.as_str(), "outcome": outcome }))
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Serves `handler` on the Lambda Runtime API until the environment stops.
pub async fn run(handler: Handler) -> Result<(), lambda_runtime::Error> {
    let handler = Arc::new(handler);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move { handler.handle(event).await }
    }))
    .await
}
