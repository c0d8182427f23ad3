//! `cargo xtask <task>`: the project's tasks, in Rust so that a fresh machine with
//! only the Rust toolchain can run them.
//!
//! - `run [ARGS…]`: the local stack with the demo organization (`hogwarden serve`).
//! - `test`: everything CI checks, in order: formatting, clippy with warnings as
//!   errors, then every test of the workspace.
//!
//! Each task installs what it needs if it is missing, and says what it is doing.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(),
        _ => {
            eprintln!("usage: cargo xtask run [hogwarden serve flags…] | cargo xtask test");
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
    println!("==> {title}");
    let started = Instant::now();
    let status =
        Command::new(program).args(args).current_dir(root()).status().map_err(|e| format!("{title}: could not start {program}: {e}"))?;
    println!("    ({title}: {:.0} s)", started.elapsed().as_secs_f64());
    if status.success() { Ok(()) } else { Err(format!("{title} failed ({status})")) }
}

fn has(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).output().map(|o| o.status.success()).unwrap_or(false)
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
    let mut args = vec!["run", "--package", "hogwarden-local", "--bin", "hogwarden", "--", "serve"];
    args.extend(extra.iter().map(String::as_str));
    step("the local stack (Ctrl-C stops it)", "cargo", &args)
}

fn test() -> Result<(), String> {
    let total = Instant::now();
    step("formatting", "cargo", &["fmt", "--all", "--", "--check"])?;
    step("clippy", "cargo", &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"])?;
    step("doc tests", "cargo", &["test", "--workspace", "--doc"])?;
    ensure_moto()?;
    ensure_aiosmtpd()?;
    if !has("cargo-nextest", "--version") && !has("cargo", "nextest --version") {
        step("installing cargo-nextest", "cargo", &["install", "cargo-nextest", "--locked"])?;
    }
    step("tests", "cargo", &["nextest", "run", "--workspace", "--all-features", "--profile", "ci"])?;
    println!("==> all checks passed in {:.0} s", total.elapsed().as_secs_f64());
    Ok(())
}
