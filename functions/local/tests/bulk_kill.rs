//! The bulk test with real processes: a change set applied by the `hogwarden`
//! binary against the PostHog sandbox at PostHog's burst rate (480/minute, with the
//! minute scaled down to a second: 8 requests per second per key), while the server
//! is SIGKILLed halfway and started again on the same data folder. `hogwarden bulk
//! apply` keeps going across the restart and the same command run again finds the
//! same set. Counted in the sandbox: every row's change lands, and each lands with
//! exactly one PostHog write.

#[path = "support/bulk_org.rs"]
mod bulk_org;

use std::process::Stdio;
use std::time::{Duration, Instant};

use hogwarden_core::changeset::ItemStatus;
use hogwarden_core::ports::{AuditQuery, Store};
use hogwarden_core::types::RequestId;
use hogwarden_store_sqlite::SqliteStore;
use posthog_sandbox::{Budget, RateLimit, Sandbox, SandboxConfig};
use tokio::process::{Child, Command};

/// The 1,000 rows by default: 1,000 writes and a dozen reads at 8 requests per
/// second (about 130 s), plus the restart. `HOGWARDEN_BULK_KILL_ROWS` sets another
/// size (4 to 4,000) for a quicker run while working on this code.
fn rows() -> usize {
    std::env::var("HOGWARDEN_BULK_KILL_ROWS").ok().and_then(|v| v.parse().ok()).filter(|n| (4..=4000).contains(n)).unwrap_or(1000)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn hogwarden() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hogwarden"));
    cmd.env("RUST_LOG", "warn").kill_on_drop(true);
    cmd
}

/// `hogwarden serve` against the test's sandbox, with the client's budget at the
/// sandbox's limit.
fn serve(port: u16, data: &std::path::Path, sandbox: &posthog_sandbox::SandboxHandle) -> Child {
    hogwarden()
        .args(["serve", "--port", &port.to_string(), "--data-dir", data.to_str().unwrap()])
        .args(["--posthog-host", &sandbox.base_url(), "--posthog-org-id", &sandbox.organization_id()])
        .args(["--posthog-burst", "8/1.02", "--posthog-sustained", "4800/3600", "--sweep-interval-secs", "3600"])
        // The test signs in as demo users against a PostHog it did not start.
        .arg("--insecure-dev-sign-in")
        .env("POSTHOG_API_KEY", sandbox.service_api_key())
        .stdout(Stdio::null())
        .spawn()
        .expect("hogwarden serve starts")
}

async fn wait_healthy(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if reqwest::get(format!("{url}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("hogwarden serve did not answer at {url}");
}

fn bulk_apply(url: &str, file: &std::path::Path, extra: &[&str]) -> Command {
    let mut cmd = hogwarden();
    cmd.args(["bulk", "apply", file.to_str().unwrap(), "--api", url, "--as", "alice@example.com"]).args(extra);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

async fn token(url: &str, email: &str) -> String {
    let res =
        reqwest::Client::new().post(format!("{url}/auth/dev-login")).json(&serde_json::json!({ "email": email })).send().await.unwrap();
    res.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_set_survives_a_sigkill_halfway_with_nothing_lost_and_nothing_written_twice() {
    // Arrange: the sandbox in this process (so its counters can be read), with enough
    // people and PostHog's burst limit scaled to one second.
    let rows = rows();
    let sandbox = Sandbox::start(SandboxConfig::acme_corp(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    bulk_org::add_people(&sandbox, rows.div_ceil(4));
    sandbox.set_rate_limit(RateLimit { burst: Budget::new(8, Duration::from_secs(1)), ..RateLimit::default() });
    let (csv, wanted) = bulk_org::change_set(rows);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.csv");
    std::fs::write(&file, &csv).unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = serve(port, &data, &sandbox);
    wait_healthy(&url).await;

    // Submit: a set this large waits for approval, and the CLI says so.
    let submitted = bulk_apply(&url, &file, &[]).output().await.unwrap();
    let said = String::from_utf8_lossy(&submitted.stdout).into_owned();
    assert_eq!(submitted.status.code(), Some(4), "{said}\n{}", String::from_utf8_lossy(&submitted.stderr));
    assert!(said.contains("waits for approval"), "{said}");
    let id = said.split_whitespace().skip_while(|w| *w != "set").nth(1).unwrap().to_owned();
    let approve = reqwest::Client::new()
        .post(format!("{url}/api/requests/{id}/approve"))
        .bearer_auth(token(&url, "bob@example.com").await)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(approve.status(), 200, "{}", approve.text().await.unwrap());
    let writes_at_start = sandbox.write_count();

    // Act: apply; SIGKILL the server once half the writes are in; start it again.
    let cli = bulk_apply(&url, &file, &["--retry-seconds", "180"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60 + rows as u64 / 2);
    while sandbox.write_count() - writes_at_start < rows / 2 {
        assert!(Instant::now() < deadline, "the apply made no headway");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().await.unwrap();
    let at_kill = sandbox.write_count() - writes_at_start;
    let mut server = serve(port, &data, &sandbox);
    wait_healthy(&url).await;
    let finished =
        tokio::time::timeout(Duration::from_secs(120 + rows as u64), cli.wait_with_output()).await.expect("the CLI finishes").unwrap();
    let again = bulk_apply(&url, &file, &[]).output().await.unwrap();
    server.kill().await.unwrap();

    // Assert: the killed run was mid-way, the CLI rode over the restart, and the same
    // file run again found the same, finished set.
    let report = String::from_utf8_lossy(&finished.stdout).into_owned();
    assert!(at_kill < rows, "the server was killed before the end ({at_kill} writes)");
    assert_eq!(finished.status.code(), Some(0), "{report}\n{}", String::from_utf8_lossy(&finished.stderr));
    assert!(report.contains(&format!("{rows} items: {rows} done, 0 no-ops, 0 failed, 0 not settled")), "{report}");
    let again_said = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(again_said.contains(&format!("Resuming change set {id}")), "{again_said}");
    assert_eq!(again.status.code(), Some(0), "{again_said}");

    // 0 lost: PostHog shows every row. 0 repeated: one write per row, in all.
    for (email, project, role) in &wanted {
        let project_id = sandbox.project_id(project).unwrap();
        assert_eq!(sandbox.project_access(project_id, email).as_deref(), Some(*role), "{email} in {project}");
    }
    assert_eq!(sandbox.write_count() - writes_at_start, rows, "each row was written exactly once");

    // Every item is done and audited once, in the restarted server's database.
    let store = SqliteStore::open(&data.join("hogwarden.db")).unwrap();
    let id = RequestId::parse(&id).unwrap();
    let items = store.list_change_items(id).await.unwrap();
    assert!(items.iter().all(|i| i.status == ItemStatus::Done), "{:?}", items.iter().find(|i| i.status != ItemStatus::Done));
    let audit = store.list_audit(&AuditQuery { request_id: Some(id), limit: 10_000, ..AuditQuery::default() }).await.unwrap();
    let applied = audit.iter().filter(|e| e.kind == hogwarden_core::audit::AuditKind::Applied).count();
    assert_eq!(applied, rows + 1, "one entry per item and the report");
    sandbox.shutdown().await;
}
