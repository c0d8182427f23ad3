//! Starts one real moto_server per test binary and gives SDK configuration that
//! points at it. A test that cannot reach the emulator fails with a message saying
//! why; nothing here skips. Shared by the adapter suites that talk to AWS
//! (`store-aws`: DynamoDB, Secrets Manager; `notify`: SES v2).
//!
//! moto_server is taken from `<workspace>/.venv/bin`, then from `PATH`; if neither
//! has it, it is installed into `<workspace>/.venv` (`moto[server]==5.2.5`, about
//! 35 s once). It runs under a small `sh` watchdog that stops it when this process
//! exits, because statics are never dropped and a panicking test must not leave a
//! server behind.
//!
//! moto_server is run single-threaded. Its TransactWriteItems is not isolated: it
//! deep-copies the table first and restores that copy when a condition fails, so
//! with concurrent requests a cancelled transaction silently undoes writes that
//! committed meanwhile (moto 5.2.x `dynamodb/models/__init__.py`). Real DynamoDB
//! transactions are serializable; serving one request at a time makes moto so too.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};

const MOTO_VERSION: &str = "5.2.5";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root exists")
}

/// Finds moto_server, installing it into the workspace's venv when it is missing.
fn moto_server_binary() -> PathBuf {
    let venv = workspace_root().join(".venv");
    let in_venv = venv.join("bin/moto_server");
    if in_venv.is_file() {
        return in_venv;
    }
    if let Some(on_path) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("moto_server"))
        .find(|candidate| candidate.is_file())
    {
        return on_path;
    }
    eprintln!("moto_server not found; installing moto[server]=={MOTO_VERSION} into {}", venv.display());
    let run = |program: &Path, args: &[&str]| {
        let status = Command::new(program).args(args).status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "could not install moto_server ({} {args:?} gave {status:?}); install it with: \
             python3 -m venv .venv && .venv/bin/pip install \"moto[server]=={MOTO_VERSION}\"",
            program.display()
        );
    };
    if !venv.join("bin/pip").is_file() {
        run(Path::new("python3"), &["-m", "venv", venv.to_str().expect("utf-8 path")]);
    }
    run(&venv.join("bin/pip"), &["install", "-q", &format!("moto[server]=={MOTO_VERSION}")]);
    assert!(in_venv.is_file(), "pip finished but {} does not exist", in_venv.display());
    in_venv
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

/// Whether moto answers `GET /moto-api/` on `port`.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    let mut head = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok() && stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// moto_server's own `main`, with werkzeug told to serve one request at a time.
const SINGLE_THREADED_MOTO: &str = r#"import sys
import moto.server as server
serve = server.run_simple
server.run_simple = lambda *args, **kwargs: serve(*args, **{**kwargs, "threaded": False})
server.main(sys.argv[1:])"#;

/// The Python that has moto installed: the one next to moto_server (a venv's, or a
/// pyenv shim), else `python3` on PATH.
fn python_for(moto_server: &Path) -> PathBuf {
    let sibling = moto_server.with_file_name("python3");
    if sibling.is_file() { sibling } else { PathBuf::from("python3") }
}

/// A running emulator. The watchdog child is kept, never waited on: it must outlive
/// every test and end with this process.
#[derive(Debug)]
struct Moto {
    endpoint: String,
    _watchdog: Child,
}

/// Starts moto_server on a free port, stopped by a watchdog when this process ends.
fn start_moto() -> Moto {
    let binary = moto_server_binary();
    let port = free_port();
    let started = Instant::now();
    // The watchdog polls this process's pid; when the test binary exits (passed,
    // failed or killed) it stops moto_server, and it also exits if moto dies.
    let script = r#"PARENT="$1"; "$2" -c "$4" -H 127.0.0.1 -p "$3" >/dev/null 2>&1 & PID=$!
while kill -0 "$PARENT" 2>/dev/null && kill -0 "$PID" 2>/dev/null; do sleep 1; done
kill "$PID" 2>/dev/null"#;
    let watchdog = Command::new("sh")
        .args([
            "-c",
            script,
            "moto-watchdog",
            &std::process::id().to_string(),
            python_for(&binary).to_str().expect("utf-8 path"),
            &port.to_string(),
            SINGLE_THREADED_MOTO,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {} through sh: {e}", binary.display()));
    while !answers(port) {
        assert!(
            started.elapsed() < READY_TIMEOUT,
            "moto_server ({}) did not answer on 127.0.0.1:{port} within {READY_TIMEOUT:?}; run it by hand to see why",
            binary.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("moto_server {} ready on port {port} after {:?}", binary.display(), started.elapsed());
    Moto { endpoint: format!("http://127.0.0.1:{port}"), _watchdog: watchdog }
}

/// The emulator's endpoint, started on first use.
pub fn endpoint() -> &'static str {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    &MOTO.get_or_init(start_moto).endpoint
}

/// SDK configuration pointing at the emulator with test credentials.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}
