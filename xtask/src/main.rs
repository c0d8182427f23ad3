//! `cargo xtask <task>`: the project's tasks, in Rust so that a fresh machine with
//! only the Rust toolchain can run them.
//!
//! - `run [ARGS…]`: builds the front end, then the local stack with the demo
//!   organization (`hogwarden serve`) serving it.
//! - `test`: everything CI checks, in order: formatting, clippy with warnings as
//!   errors, cfn-lint on the SAM template, the dependency policy (`cargo deny check
//!   licenses bans sources`, deny.toml), the front end's checks and release build
//!   and that build's size against its budget, then every test of the workspace (the
//!   browser tests among them).
//! - `size`: the release front end's WASM size, raw and gzipped, against its budget.
//! - `package`: the four Lambda zips for AWS (arm64), as infra/template.yaml names them.
//! - `bench`: figures, not pass/fail tests: the bulk apply rate against PostHog's
//!   limit (1,000 rows), a leaked-key alert's response time, the expiry sweep's read cost on a large
//!   table, the PostHog calls and time of opening an access review over 2,000
//!   members, each Lambda's zip size and its cold init time.
//!
//! Each task installs what it needs if it is missing, and says what it is doing.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

mod frontend;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(),
        Some("size") => frontend::size(),
        Some("package") => package().map(|_| ()),
        Some("bench") => bench(),
        _ => {
            eprintln!("usage: cargo xtask run [hogwarden serve flags…] | test | size | package | bench");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace root").to_path_buf()
}

/// Runs a command in the workspace root, failing with its name if it fails.
fn step(title: &str, program: &str, args: &[&str]) -> Result<(), String> {
    let mut command = Command::new(program);
    command.args(args);
    run_step(title, command)
}

/// Runs a prepared command in the workspace root, failing with its name if it fails.
fn run_step(title: &str, mut command: Command) -> Result<(), String> {
    println!("==> {title}");
    let started = Instant::now();
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command.current_dir(root()).status().map_err(|e| format!("{title}: could not start {program}: {e}"))?;
    println!("    ({title}: {:.0} s)", started.elapsed().as_secs_f64());
    if status.success() { Ok(()) } else { Err(format!("{title} failed ({status})")) }
}

fn has(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).output().map(|o| o.status.success()).unwrap_or(false)
}

/// cargo-deny, pinned: 0.20.2 builds with rustc 1.88 and newer (about 4 min the first time).
fn ensure_cargo_deny() -> Result<(), String> {
    const VERSION: &str = "0.20.2";
    let installed = Command::new("cargo-deny").arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if installed.is_ok_and(|v| v.split_whitespace().nth(1) == Some(VERSION)) {
        return Ok(());
    }
    step("installing cargo-deny", "cargo", &["install", "cargo-deny", "--locked", "--version", VERSION])
}

/// The AWS adapters are tested against a real local AWS emulator, moto_server (PyPI).
/// Installed once here, before the tests, because nextest runs each test in its own
/// process and concurrent installs into one venv would collide.
fn ensure_moto() -> Result<(), String> {
    const MOTO: &str = "moto[server]==5.2.5";
    let venv = root().join(".venv");
    if venv.join("bin/moto_server").is_file() || has("moto_server", "--help") {
        return Ok(());
    }
    if !venv.join("bin/pip").is_file() {
        step("creating ./.venv for the AWS emulator", "python3", &["-m", "venv", ".venv"])?;
    }
    step("installing moto_server (the local AWS emulator)", ".venv/bin/pip", &["install", "--quiet", MOTO])
}

/// A Python tool in ./.venv (or on PATH), installed into ./.venv with pip when
/// neither has it. Returns the program to run.
fn venv_tool(binary: &str, requirement: &str, what: &str) -> Result<PathBuf, String> {
    let in_venv = root().join(".venv/bin").join(binary);
    if in_venv.is_file() {
        return Ok(in_venv);
    }
    if has(binary, "--version") {
        return Ok(PathBuf::from(binary));
    }
    if !root().join(".venv/bin/pip").is_file() {
        step("creating ./.venv for the Python tools", "python3", &["-m", "venv", ".venv"])?;
    }
    step(&format!("installing {what} ({requirement})"), ".venv/bin/pip", &["install", "--quiet", requirement])?;
    if in_venv.is_file() { Ok(in_venv) } else { Err(format!("pip installed {requirement} but {} is missing", in_venv.display())) }
}

/// cfn-lint, pinned: newer versions add rules, and the template must pass this one.
fn ensure_cfn_lint() -> Result<PathBuf, String> {
    venv_tool("cfn-lint", "cfn-lint==1.58.0", "cfn-lint (the CloudFormation linter)")
}

/// The SAM template, relative to the workspace root.
const TEMPLATE: &str = "infra/template.yaml";

/// The Lambda binaries the template deploys, read from its `CodeUri`s
/// (`../target/lambda/<binary>/bootstrap.zip`), so this list has one source.
fn lambda_binaries() -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(root().join(TEMPLATE)).map_err(|e| format!("cannot read {TEMPLATE}: {e}"))?;
    let bins: Vec<String> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("CodeUri: ../target/lambda/")?.strip_suffix("/bootstrap.zip").map(str::to_owned))
        .collect();
    if bins.is_empty() { Err(format!("{TEMPLATE} names no CodeUri ../target/lambda/<binary>/bootstrap.zip")) } else { Ok(bins) }
}

/// Where the template expects each zip.
fn lambda_zip(bin: &str) -> PathBuf {
    root().join("target/lambda").join(bin).join("bootstrap.zip")
}

/// Each Lambda zip should stay under this, so cold starts stay fast.
const ZIP_TARGET: u64 = 8 * 1024 * 1024;

/// `cargo lambda build` for arm64 (Graviton), zipped where the template's CodeUri
/// points, whatever CARGO_TARGET_DIR is. Installs cargo-lambda (which brings zig
/// through pip) and the aarch64 standard library when they are missing.
fn package() -> Result<Vec<(String, u64)>, String> {
    let bins = lambda_binaries()?;
    let cargo_lambda = venv_tool("cargo-lambda", "cargo-lambda==1.9.2", "cargo-lambda (and zig, about 400 MB)")?;
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output().map_err(|e| format!("rustup: {e}"))?;
    if !String::from_utf8_lossy(&installed.stdout).lines().any(|t| t.trim() == "aarch64-unknown-linux-gnu") {
        step("adding the arm64 standard library", "rustup", &["target", "add", "aarch64-unknown-linux-gnu"])?;
    }
    // cargo-lambda finds zig through the venv's Python (the ziglang package).
    let venv_bin = root().join(".venv/bin");
    let tool_dir = cargo_lambda.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf);
    let path =
        std::env::join_paths(tool_dir.into_iter().chain([venv_bin]).chain(std::env::var_os("PATH").iter().flat_map(std::env::split_paths)))
            .map_err(|e| format!("PATH: {e}"))?;
    let mut command = Command::new(&cargo_lambda);
    command
        .args(["lambda", "build", "--release", "--arm64", "--output-format", "zip", "--lambda-dir", "target/lambda"])
        .args(bins.iter().flat_map(|b| ["--package", b.as_str()]))
        .env("PATH", path)
        .stdin(Stdio::null());
    run_step("building the Lambda zips (release, arm64)", command)?;
    let mut sizes = Vec::new();
    for bin in bins {
        let zip = lambda_zip(&bin);
        let size = std::fs::metadata(&zip).map_err(|e| format!("{} was not built: {e}", zip.display()))?.len();
        println!("    {} {}", zip.display(), human(size));
        sizes.push((bin, size));
    }
    Ok(sizes)
}

fn human(bytes: u64) -> String {
    format!("{bytes} B ({:.2} MB)", bytes as f64 / (1024.0 * 1024.0))
}

/// Where cargo puts host builds: CARGO_TARGET_DIR when set, else ./target.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| if d.is_absolute() { d } else { root().join(d) })
        .unwrap_or_else(|| root().join("target"))
}

/// Prints figures; a section that cannot run says why, and the others still run.
fn bench() -> Result<(), String> {
    let mut failed = Vec::new();

    // (a) The expiry sweep's read cost: store-aws's example on moto.
    ensure_moto()?;
    if let Err(e) = step(
        "bench: sweep read cost (10,000 grants not due + 10 due, moto)",
        "cargo",
        &["run", "--quiet", "--package", "hogwarden-store-aws", "--example", "sweep_cost"],
    ) {
        failed.push(e);
    }

    // (a2) A 1,000-row bulk change set against the sandbox at 480/minute (the minute
    // scaled to a second): changes per second as a fraction of the 8/s ceiling.
    if let Err(e) = step(
        "bench: bulk apply (1,000 rows, sandbox at 8 requests/s)",
        "cargo",
        &["run", "--quiet", "--package", "hogwarden-local", "--example", "bulk_bench"],
    ) {
        failed.push(e);
    }

    // (a3) Leaked-key alert → key rotated, stored and audited (local stack, sandbox at 50 ms).
    if let Err(e) = step(
        "bench: leaked-key alert → rotated, stored and audited (100 alerts, local stack, 50 ms sandbox)",
        "cargo",
        &["run", "--quiet", "--package", "hogwarden-e2e", "--example", "leak_response"],
    ) {
        failed.push(e);
    }

    // (a4) Opening an access review over 2,000 members and 20 projects in the sandbox:
    // PostHog calls and time.
    if let Err(e) = step(
        "bench: opening an access review (2,000 members, 20 projects, sandbox)",
        "cargo",
        &["run", "--quiet", "--release", "--package", "hogwarden-e2e", "--example", "review_open"],
    ) {
        failed.push(e);
    }

    let bins = lambda_binaries()?;

    // (b) Zip sizes, from the last `cargo xtask package`.
    println!("==> bench: Lambda zip sizes (target {})", human(ZIP_TARGET));
    for bin in &bins {
        match std::fs::metadata(lambda_zip(bin)) {
            Ok(m) => {
                let verdict = if m.len() <= ZIP_TARGET { "within target" } else { "OVER target" };
                println!("    {bin:<24} {}  {verdict}", human(m.len()));
            }
            Err(_) => println!("    {bin:<24} not built: run cargo xtask package first"),
        }
    }

    // (c) Cold init: the binaries built for this host, started against a fake
    // Runtime API with moto and the PostHog sandbox behind them. Each is built on its
    // own, so one that does not build yet does not hide the others' figures.
    let mut built = Vec::new();
    for bin in &bins {
        match step(
            &format!("bench: building {bin} for this host (release)"),
            "cargo",
            &["build", "--release", "--package", bin, "--bin", bin],
        ) {
            Ok(()) => built.push(target_dir().join("release").join(bin).to_string_lossy().into_owned()),
            Err(e) => failed.push(e),
        }
    }
    if !built.is_empty() {
        let mut args = vec!["run", "--quiet", "--package", "hogwarden-infra-tests", "--bin", "cold-init", "--", "--runs", "7"];
        args.extend(built.iter().map(String::as_str));
        if let Err(e) = step("bench: cold init (fake Runtime API, moto, PostHog sandbox)", "cargo", &args) {
            failed.push(e);
        }
    }

    if failed.is_empty() { Ok(()) } else { Err(failed.join("; ")) }
}

/// The email notifier is tested against a real SMTP server, aiosmtpd (PyPI), kept in
/// its own venv; installed here for the same reason as moto.
fn ensure_aiosmtpd() -> Result<(), String> {
    const AIOSMTPD: &str = "aiosmtpd==1.4.6";
    let python = root().join(".venv-smtp/bin/python3");
    if Command::new(&python).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    if !python.is_file() {
        step("creating ./.venv-smtp for the SMTP test server", "python3", &["-m", "venv", ".venv-smtp"])?;
    }
    step("installing aiosmtpd (the SMTP test server)", ".venv-smtp/bin/pip", &["install", "--quiet", AIOSMTPD])
}

fn run(extra: &[String]) -> Result<(), String> {
    frontend::build_frontend(true)?;
    let dist = frontend::dist_dir().to_string_lossy().into_owned();
    let mut args = vec!["run", "--package", "hogwarden-local", "--bin", "hogwarden", "--", "serve"];
    if !extra.iter().any(|a| a.starts_with("--frontend-dir")) {
        args.extend(["--frontend-dir", dist.as_str()]);
    }
    args.extend(extra.iter().map(String::as_str));
    step("the local stack (Ctrl-C stops it)", "cargo", &args)
}

fn test() -> Result<(), String> {
    let total = Instant::now();
    step("formatting", "cargo", &["fmt", "--all", "--", "--check"])?;
    step("clippy", "cargo", &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"])?;
    step("doc tests", "cargo", &["test", "--workspace", "--doc"])?;
    ensure_moto()?;
    let cfn_lint = ensure_cfn_lint()?;
    step("cfn-lint (the SAM template)", &cfn_lint.to_string_lossy(), &[TEMPLATE])?;
    ensure_cargo_deny()?;
    // Not `advisories`: it needs the RustSec database from GitHub (deny.toml says more).
    step("dependency policy (deny.toml)", "cargo", &["deny", "--locked", "check", "licenses", "bans", "sources"])?;
    frontend::prepare_browser_tests()?;
    frontend::check_size()?;
    ensure_aiosmtpd()?;
    if !has("cargo-nextest", "--version") && !has("cargo", "nextest --version") {
        step("installing cargo-nextest", "cargo", &["install", "cargo-nextest", "--locked"])?;
    }
    step("tests", "cargo", &["nextest", "run", "--workspace", "--all-features", "--profile", "ci"])?;
    println!("==> all checks passed in {:.0} s", total.elapsed().as_secs_f64());
    Ok(())
}
