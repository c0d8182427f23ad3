//! chromedriver and headless Chromium, started per browser and always stopped.
//!
//! Each [`Driver`] runs its own chromedriver on a free port, in its own process
//! group, with a marker in its environment that Chromium inherits. Dropping the
//! driver (also when a test fails half-way) kills the whole group, so no Chromium is
//! left behind; [`kill_orphans`] ends the processes of earlier test runs that were
//! killed before their guards could run.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Names the test process that started a chromedriver (and, by inheritance, its Chromium).
const OWNER_MARKER: &str = "HOGWARDEN_BROWSER_TEST_OWNER";

fn program(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

/// A running chromedriver, killed with everything it started when dropped.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    pub url: String,
    /// Chromium's profile: fresh for every browser, removed with the driver.
    profile: tempfile::TempDir,
}

impl Driver {
    pub async fn start() -> anyhow::Result<Self> {
        kill_orphans();
        let chromedriver = program("CHROMEDRIVER", "/usr/bin/chromedriver");
        if !chromedriver.is_file() {
            bail!(
                "{} is missing: the browser tests need Chromium and chromedriver. `cargo xtask test` installs them \
                 (apt-get install chromium chromium-driver).",
                chromedriver.display()
            );
        }
        let port = free_port()?;
        let profile = tempfile::Builder::new().prefix("hogwarden-browser-profile-").tempdir()?;
        let child = spawn_in_own_group(&chromedriver, port)?;
        let driver = Self { child, url: format!("http://127.0.0.1:{port}"), profile };
        driver.wait_ready().await?;
        Ok(driver)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{}/status", self.url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not answer at {} within 20 s", self.url);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new WebDriver session: headless Chromium with a fresh profile and nothing
    /// running in the background (no updates, sync or phoning home).
    pub async fn session(&self) -> anyhow::Result<Client> {
        let chromium = program("CHROMIUM", "/usr/bin/chromium");
        let args = [
            "--headless=new".to_owned(),
            // CI runs as root, where Chromium's sandbox cannot start.
            "--no-sandbox".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-crash-reporter".to_owned(),
            "--disable-default-apps".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--window-size=1280,1000".to_owned(),
            format!("--user-data-dir={}", self.profile.path().display()),
        ];
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else { unreachable!("a JSON object") };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .with_context(|| format!("starting headless Chromium ({}) through chromedriver", chromium.display()))
    }

    pub fn profile(&self) -> &Path {
        self.profile.path()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group holds chromedriver and every Chromium process it started.
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn_in_own_group(chromedriver: &Path, port: u16) -> anyhow::Result<Child> {
    use std::os::unix::process::CommandExt;
    Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .env(OWNER_MARKER, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", chromedriver.display()))
}

/// Kills chromedriver and Chromium processes that earlier test processes started and
/// could not stop (a test process killed outright never runs its guards). Only
/// processes carrying our marker with a dead owner are touched.
pub fn kill_orphans() {
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        let owner = environ.split(|b| *b == 0).find_map(|var| {
            let var = std::str::from_utf8(var).ok()?;
            var.strip_prefix(OWNER_MARKER)?.strip_prefix('=')?.parse::<u32>().ok()
        });
        if let Some(owner) = owner
            && owner != std::process::id()
            && !Path::new(&format!("/proc/{owner}")).exists()
        {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}
