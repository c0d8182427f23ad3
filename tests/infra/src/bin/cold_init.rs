//! `cold-init [--runs N] <binary>…`: how long each Lambda binary takes from process
//! start until it asks the Lambda Runtime API for its first event, i.e. its init
//! phase (`cargo xtask bench` builds the binaries for the host and runs this).
//!
//! Each run starts the binary as Lambda would, with `AWS_LAMBDA_RUNTIME_API`
//! pointing at a tiny fake Runtime API on loopback that notes when
//! `GET /2018-06-01/runtime/invocation/next` arrives, and with Hogwarden's variables
//! pointing at a real moto_server (the table and the secret exist) and the PostHog
//! sandbox, so whatever the binary does before its first event (configuration, SDK
//! clients, reading the key) is measured against real endpoints. The binary is
//! killed as soon as it asks; it never receives an event.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hogwarden_lambda::env;
use posthog_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

// The moto_server harness of store-aws's tests, shared rather than copied.
#[allow(dead_code)]
#[path = "../../../../functions/store-aws/tests/aws/harness.rs"]
mod harness;

/// The init time AWS bills nothing for and users wait through on a cold request.
const TARGET: Duration = Duration::from_millis(50);
/// A binary that has not asked for an event by then is reported as failing.
const GIVE_UP: Duration = Duration::from_secs(20);
const NEXT: &str = "GET /2018-06-01/runtime/invocation/next ";

/// What the fake Runtime API saw first.
enum Seen {
    Next(Instant),
    Other(String),
}

/// A fake Lambda Runtime API: it answers nothing, it only notes the first request.
struct FakeRuntimeApi {
    addr: SocketAddr,
    seen: mpsc::Receiver<Seen>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeRuntimeApi {
    fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (tx, seen) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            // Connections are held open (the binary waits for its event) until the end.
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let arrived = Instant::now();
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                let _ = tx.send(if line.starts_with(NEXT) { Seen::Next(arrived) } else { Seen::Other(line.trim_end().to_owned()) });
                held.push(stream);
            }
        });
        Ok(Self { addr, seen, stop, thread: Some(thread) })
    }
}

impl Drop for FakeRuntimeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where the binaries' dependencies run during the bench.
struct Backends {
    endpoint: String,
    table: String,
    secret: String,
    sandbox: SandboxHandle,
}

async fn backends() -> Result<Backends, String> {
    let config = harness::sdk_config().await;
    let table = format!("hogwarden-bench-{}", uuid::Uuid::new_v4());
    hogwarden_store_aws::create_table(&aws_sdk_dynamodb::Client::new(&config), &table)
        .await
        .map_err(|e| format!("creating the table on moto: {e}"))?;
    let sandbox = Sandbox::start(SandboxConfig::acme_corp(), ([127, 0, 0, 1], 0).into())
        .await
        .map_err(|e| format!("starting the PostHog sandbox: {e}"))?;
    let secret = format!("hogwarden-bench-{}", uuid::Uuid::new_v4());
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(&secret)
        .secret_string(sandbox.service_api_key())
        .send()
        .await
        .map_err(|e| format!("creating the secret on moto: {e}"))?;
    Ok(Backends { endpoint: harness::endpoint().to_owned(), table, secret, sandbox })
}

/// One cold start of `binary`: the time from spawning it to its first `next`.
fn measure(binary: &Path, backends: &Backends) -> Result<Duration, String> {
    let runtime = FakeRuntimeApi::start().map_err(|e| format!("starting the fake Runtime API: {e}"))?;
    let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or("bootstrap");
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("_HANDLER", "bootstrap")
        .env("LAMBDA_TASK_ROOT", binary.parent().unwrap_or(Path::new(".")))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", &backends.endpoint)
        .env(env::TABLE, &backends.table)
        .env(env::POSTHOG_KEY_SECRET, &backends.secret)
        .env(env::POSTHOG_HOST, backends.sandbox.base_url())
        .env(env::POSTHOG_ORG_ID, backends.sandbox.organization_id())
        .env(env::WEB_URL, "http://127.0.0.1:8080")
        .env(env::LOG, "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let outcome = loop {
        match runtime.seen.recv_timeout(Duration::from_millis(5)) {
            Ok(Seen::Next(at)) => break Ok(at.duration_since(started)),
            Ok(Seen::Other(request)) => break Err(format!("asked the Runtime API {request:?} before any event (an init error?)")),
            Err(mpsc::RecvTimeoutError::Disconnected) => break Err("the fake Runtime API stopped".to_owned()),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("exited ({status}) without asking for an event"));
        }
        if started.elapsed() > GIVE_UP {
            break Err(format!("did not ask for an event within {GIVE_UP:?}"));
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome.map_err(|problem| {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n      ");
        format!("{}: {problem}\n      {tail}", binary.display())
    })
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let mut runs = 7usize;
    let mut binaries = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0).unwrap_or(runs);
        } else {
            binaries.push(PathBuf::from(arg));
        }
    }
    if binaries.is_empty() {
        eprintln!("usage: cold-init [--runs N] <lambda binary built for this host>…");
        return ExitCode::from(2);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cold-init: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The sandbox keeps serving on the runtime's worker while the runs below block.
    let backends = match runtime.block_on(backends()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cold-init: {e}");
            return ExitCode::FAILURE;
        }
    };

    println!(
        "cold init: process start -> first GET /2018-06-01/runtime/invocation/next (median of {runs} runs; target {} ms)",
        TARGET.as_millis()
    );
    let mut failed = false;
    for binary in &binaries {
        let name = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            match measure(binary, &backends) {
                Ok(d) => samples.push(d),
                Err(e) => {
                    println!("  {name:<24} FAILED {e}");
                    failed = true;
                    break;
                }
            }
        }
        if samples.len() == runs {
            let (min, max) = (samples.iter().min().copied().unwrap_or_default(), samples.iter().max().copied().unwrap_or_default());
            let m = median(samples);
            let verdict = if m <= TARGET { "within target" } else { "OVER target" };
            println!("  {name:<24} {:>7.1} ms  (min {:.1}, max {:.1})  {verdict}", ms(m), ms(min), ms(max));
        }
    }
    runtime.block_on(backends.sandbox.shutdown());
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
