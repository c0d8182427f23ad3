//! The `hogwarden` binary as a person runs it: `serve` starts the stack with the demo
//! org and prints where everything is; `sandbox` runs the PostHog sandbox alone.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `hogwarden` binary with its stdout captured.
fn spawn(args: &[&str]) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_hogwarden")).args(args).env("RUST_LOG", "warn").stdout(Stdio::piped()).spawn().unwrap();
    Running(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Reads stdout lines until `until` has been printed; returns everything read.
fn read_until(child: &mut Child, until: &str) -> String {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = String::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push_str(&line);
            seen.push('\n');
            if seen.contains(until) {
                // Keep draining so the child never blocks on a full pipe.
                std::thread::spawn(move || while rx.recv().is_ok() {});
                return seen;
            }
        }
    }
    panic!("did not print {until:?} within 60 s; printed:\n{seen}");
}

#[tokio::test]
async fn serve_starts_the_stack_with_the_demo_org_and_prints_where_it_is() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let (port, sandbox_port) = (free_port(), free_port());
    let data_dir = dir.path().to_str().unwrap();
    let mut running = spawn(&[
        "serve",
        "--port",
        &port.to_string(),
        "--sandbox-port",
        &sandbox_port.to_string(),
        "--sweep-interval-secs",
        "1",
        "--data-dir",
        data_dir,
    ]);

    // Act
    let printed = read_until(&mut running.0, "frank@example.com");

    // Assert: it says where the API, the sandbox and the demo users are…
    assert!(printed.contains(&format!("http://127.0.0.1:{port}")), "{printed}");
    assert!(printed.contains(&format!("http://127.0.0.1:{sandbox_port}")), "{printed}");
    assert!(printed.contains("alice@example.com"), "{printed}");
    assert!(!printed.contains("phx_"), "the PostHog key is never printed by serve");
    // …and answers: a demo user signs in and sees the sandbox's projects.
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("http://127.0.0.1:{port}/auth/dev-login"))
        .json(&serde_json::json!({ "email": "frank@example.com" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let projects: serde_json::Value = http
        .get(format!("http://127.0.0.1:{port}/api/projects"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = projects["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for name in ["Production", "Staging", "Web App", "Mobile App"] {
        assert!(names.contains(&name), "{names:?}");
    }
    assert!(dir.path().join("hogwarden.db").exists());
    assert!(dir.path().join("issuer-key.pem").exists());
}

#[tokio::test]
async fn sandbox_runs_alone_and_accepts_the_key_it_was_given() {
    let port = free_port();
    let key = "phx_TestKeyForTheSandboxCliTest0123456789abcdef";
    let mut running = spawn(&["sandbox", "--port", &port.to_string(), "--api-key", key]);
    let printed = read_until(&mut running.0, "personal API key");
    assert!(printed.contains(&format!("127.0.0.1:{port}")), "{printed}");
    assert!(!printed.contains(key), "the key is not printed: {printed}");
    assert!(printed.contains("phx_…cdef"), "a hint of which key it is: {printed}");

    let org = printed
        .lines()
        .find_map(|l| {
            l.split_whitespace().map(|w| w.trim_matches(|c| c == '(' || c == ')')).find(|w| w.len() == 36 && w.matches('-').count() == 4)
        })
        .map(str::to_owned);
    let org = org.unwrap_or_else(|| panic!("no organization id printed:\n{printed}"));
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/organizations/{org}/members/?limit=5"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["count"], 43, "42 people of Acme Corp plus the service account");
}

#[tokio::test]
async fn bulk_plan_prints_each_row_and_exits_non_zero_when_rows_have_errors() {
    // Arrange: a running stack, and a change set with one good and one bad row.
    let dir = tempfile::tempdir().unwrap();
    let (port, sandbox_port) = (free_port(), free_port());
    let data_dir = dir.path().join("data");
    let mut running = spawn(&[
        "serve",
        "--port",
        &port.to_string(),
        "--sandbox-port",
        &sandbox_port.to_string(),
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    read_until(&mut running.0, "frank@example.com");
    let file = dir.path().join("changes.csv");
    std::fs::write(&file, "email,project,role,end_date\nlaura@example.com,Mobile App,member,\nheidi@example.com,,owner,\n").unwrap();
    let api = format!("http://127.0.0.1:{port}");

    // Act
    let out = Command::new(env!("CARGO_BIN_EXE_hogwarden"))
        .args(["bulk", "plan", file.to_str().unwrap(), "--api", &api, "--as", "alice@example.com"])
        .output()
        .unwrap();
    let no_auth = Command::new(env!("CARGO_BIN_EXE_hogwarden"))
        .args(["bulk", "plan", file.to_str().unwrap(), "--api", &api])
        .env_remove("HOGWARDEN_TOKEN")
        .output()
        .unwrap();

    // Assert
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "rows with errors: {printed}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.lines().any(|l| l.trim_start().starts_with("2  change") && l.contains("laura@example.com")), "{printed}");
    assert!(printed.lines().any(|l| l.trim_start().starts_with("3  ERROR") && l.contains("Owner is never granted")), "{printed}");
    assert!(printed.contains("1 changes, 0 no-ops, 1 errors. Nothing was written."), "{printed}");
    assert_ne!(no_auth.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&no_auth.stderr).contains("HOGWARDEN_TOKEN"), "says how to sign in");
}

/// Runs `hogwarden serve` with `args` and no notification settings in the
/// environment; returns its exit status and standard error.
fn serve_fails(args: &[&str]) -> (std::process::ExitStatus, String) {
    serve_fails_with(args, &[])
}

/// [`serve_fails`] with these environment variables set.
fn serve_fails_with(args: &[&str], env: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_hogwarden"));
    command.args(["serve", "--data-dir", dir.path().to_str().unwrap(), "--port", "0", "--sandbox-port", "0"]).args(args);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("HOGWARDEN_")) {
        command.env_remove(name);
    }
    command.env_remove("POSTHOG_API_KEY").envs(env.iter().copied());
    let out = command.env("RUST_LOG", "warn").output().unwrap();
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn serve_names_the_missing_setting_of_a_chosen_notifier() {
    let (status, stderr) = serve_fails(&["--notify", "log,slack"]);
    assert!(!status.success());
    assert!(stderr.contains("HOGWARDEN_SLACK_WEBHOOK_URL"), "{stderr}");

    let (status, stderr) = serve_fails(&["--notify", "smtp"]);
    assert!(!status.success());
    assert!(stderr.contains("HOGWARDEN_SMTP_HOST"), "{stderr}");

    let (status, stderr) = serve_fails(&["--notify", "smtp", "--smtp-host", "localhost"]);
    assert!(!status.success());
    assert!(stderr.contains("HOGWARDEN_SMTP_FROM"), "{stderr}");

    let (status, stderr) = serve_fails(&["--notify", "carrier-pigeon"]);
    assert!(!status.success());
    assert!(stderr.contains("log") && stderr.contains("slack") && stderr.contains("smtp"), "{stderr}");
}

#[test]
fn a_bad_webhook_url_is_refused_without_repeating_it() {
    let (status, stderr) =
        serve_fails_with(&["--notify", "slack"], &[("HOGWARDEN_SLACK_WEBHOOK_URL", "hooks.slack.com/services/T1/B1/t0pS3cret")]);
    assert!(!status.success());
    assert!(stderr.contains("HOGWARDEN_SLACK_WEBHOOK_URL") && !stderr.contains("t0pS3cret"), "{stderr}");
}

#[test]
fn secrets_on_the_command_line_are_refused_naming_the_variable() {
    // Every user of the machine reads another's argv (ps, /proc/<pid>/cmdline).
    for (flag, var) in [
        ("--posthog-api-key", "POSTHOG_API_KEY"),
        ("--smtp-password", "HOGWARDEN_SMTP_PASSWORD"),
        ("--slack-webhook-url", "HOGWARDEN_SLACK_WEBHOOK_URL"),
    ] {
        let (status, stderr) = serve_fails(&[flag, "phx_S3cretOnTheCommandLine"]);
        assert!(!status.success(), "{flag} was accepted");
        assert!(stderr.contains(flag) && stderr.contains(var), "{flag}: {stderr}");
        assert!(!stderr.contains("S3cretOnTheCommandLine"), "{flag}: the secret is not repeated: {stderr}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_hogwarden"))
        .args(["bulk", "plan", "changes.csv", "--api", "http://127.0.0.1:9", "--token", "eyJS3cret"])
        .env_remove("HOGWARDEN_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("--token is not accepted") && stderr.contains("HOGWARDEN_TOKEN") && !stderr.contains("eyJS3cret"), "{stderr}");
}

#[test]
fn the_help_names_the_secret_variables_instead_of_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_hogwarden")).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in ["POSTHOG_API_KEY", "HOGWARDEN_SLACK_WEBHOOK_URL", "HOGWARDEN_SMTP_PASSWORD"] {
        assert!(help.contains(var), "{var}: {help}");
    }
    for flag in ["--posthog-api-key", "--smtp-password", "--slack-webhook-url"] {
        assert!(!help.contains(flag), "{flag} is not offered: {help}");
    }
}
