//! Receivers the notifiers talk to in these tests, all real servers on loopback:
//! an axum app standing in for Slack's webhook endpoint (it records each body and
//! answers from a script of statuses), an SMTP server (Python's aiosmtpd, installed
//! into `<workspace>/.venv-smtp` when no Python here has it), and moto for SES (see
//! the `moto-harness` crate). Nothing here skips: a receiver that cannot start fails
//! the test with the reason.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const AIOSMTPD_VERSION: &str = "1.4.6";

// ------------------------------------------------------------------ Slack

/// A stand-in for Slack's incoming-webhook endpoint at a secret path.
#[derive(Debug, Clone)]
pub struct SlackReceiver {
    pub url: String,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    statuses: Arc<Mutex<VecDeque<(u16, &'static str)>>>,
}

/// The secret part of the webhook URL; it must never show up in what is sent.
pub const SLACK_SECRET_PATH: &str = "services/T0TEST/B0TEST/s3cr3tW3bh00kT0k3n";

impl SlackReceiver {
    /// Answers `200 ok` unless [`Self::answer`] queued other statuses first.
    pub async fn start() -> Self {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(VecDeque::new()));
        let state = (bodies.clone(), statuses.clone());
        let app = Router::new().route(&format!("/{SLACK_SECRET_PATH}"), post(record)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the Slack stand-in serves") });
        Self { url: format!("http://{addr}/{SLACK_SECRET_PATH}"), bodies, statuses }
    }

    /// Queues the next answers, e.g. `(500, "oops")` then `(200, "ok")`.
    pub fn answer(&self, status: u16, body: &'static str) {
        self.statuses.lock().unwrap().push_back((status, body));
    }

    /// Every body received, in order (retries included).
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}

type SlackState = (Arc<Mutex<Vec<serde_json::Value>>>, Arc<Mutex<VecDeque<(u16, &'static str)>>>);

async fn record(State((bodies, statuses)): State<SlackState>, body: String) -> (StatusCode, &'static str) {
    bodies.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)));
    let (status, text) = statuses.lock().unwrap().pop_front().unwrap_or((200, "ok"));
    (StatusCode::from_u16(status).expect("a valid status"), text)
}

// ------------------------------------------------------------------ SMTP

/// One message as the SMTP server received and parsed it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub content_type: String,
    pub body: String,
    pub login: Option<String>,
}

/// A running aiosmtpd. Dropping it closes its stdin, which ends it.
#[derive(Debug)]
pub struct SmtpReceiver {
    pub port: u16,
    mail: mpsc::UnboundedReceiver<ReceivedMail>,
    _child: Child,
}

impl SmtpReceiver {
    /// Starts a receiver that accepts any mail without authentication.
    pub async fn start() -> Self {
        Self::spawn(None).await
    }

    /// Starts a receiver that requires AUTH with this username and password.
    pub async fn start_with_login(username: &str, password: &str) -> Self {
        Self::spawn(Some((username, password))).await
    }

    async fn spawn(login: Option<(&str, &str)>) -> Self {
        let python = python_with_aiosmtpd();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/notify/smtp_receiver.py");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut command = Command::new(&python);
        command.arg(&script).arg(port.to_string());
        if let Some((user, password)) = login {
            command.args([user, password]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {} {}: {e}", python.display(), script.display()));
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        assert!(matches!(&first, Ok(Ok(Some(line))) if line == "ready"), "the SMTP receiver did not start on port {port}: {first:?}");
        let (tx, mail) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let parsed: ReceivedMail = serde_json::from_str(&line).unwrap_or_else(|e| panic!("receiver line {line:?}: {e}"));
                if tx.send(parsed).is_err() {
                    break;
                }
            }
        });
        Self { port, mail, _child: child }
    }

    /// The next message, waiting up to five seconds for it.
    pub async fn next_mail(&mut self) -> ReceivedMail {
        tokio::time::timeout(Duration::from_secs(5), self.mail.recv())
            .await
            .expect("a message reached the SMTP receiver within 5 s")
            .expect("the SMTP receiver is still running")
    }

    /// Whether a message arrives within `wait` (for asserting that none does).
    pub async fn any_mail_within(&mut self, wait: Duration) -> Option<ReceivedMail> {
        tokio::time::timeout(wait, self.mail.recv()).await.ok().flatten()
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root exists")
}

fn imports_aiosmtpd(python: &Path) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Python that can import aiosmtpd: the workspace's `.venv-smtp`, else `python3`
/// on PATH, else `.venv-smtp` made now (under a lock, since nextest runs each test
/// in its own process and several may get here at once).
fn python_with_aiosmtpd() -> PathBuf {
    let venv = workspace_root().join(".venv-smtp");
    let in_venv = venv.join("bin/python3");
    if in_venv.is_file() && imports_aiosmtpd(&in_venv) {
        return in_venv;
    }
    if imports_aiosmtpd(Path::new("python3")) {
        return PathBuf::from("python3");
    }
    let venv_str = venv.to_str().expect("utf-8 path");
    let install = format!(
        "[ -x '{venv_str}/bin/python3' ] && '{venv_str}/bin/python3' -c 'import aiosmtpd' 2>/dev/null && exit 0; \
         python3 -m venv '{venv_str}' && '{venv_str}/bin/pip' install -q 'aiosmtpd=={AIOSMTPD_VERSION}'"
    );
    eprintln!("aiosmtpd not found; installing aiosmtpd=={AIOSMTPD_VERSION} into {venv_str}");
    let status = std::process::Command::new("flock").arg(format!("{venv_str}.lock")).args(["sh", "-c", &install]).status();
    assert!(
        matches!(status, Ok(s) if s.success()) && imports_aiosmtpd(&in_venv),
        "could not install aiosmtpd ({status:?}); install it with: python3 -m venv .venv-smtp && .venv-smtp/bin/pip install aiosmtpd=={AIOSMTPD_VERSION}"
    );
    in_venv
}
