//! The front end's tasks: the tools its build needs, the release build into
//! `frontend/dist`, its size, and the browser the browser tests drive.
//!
//! Every tool is installed only when the right version is missing, so a machine that
//! ran this before spends seconds here; a fresh one about 14 minutes (trunk 9 min,
//! wasm-bindgen-cli 3 min, Chromium 1 min). Versions are pinned because trunk would
//! otherwise try to download a matching tool from GitHub at build time: the front
//! end's Trunk.toml sets `offline = true` and names the versions below.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::root;

/// trunk 0.22 needs a newer rustc than the workspace's 1.95; 0.21.14 is the newest that builds.
const TRUNK_VERSION: &str = "0.21.14";
/// Used when the front end's Cargo.lock does not name a wasm-bindgen version.
const WASM_BINDGEN_FALLBACK: &str = "0.2.130";
/// npm's binaryen (package.json); Debian's binaryen 108 silently breaks the module.
const WASM_OPT_VERSION: &str = "version_132";
/// The budget for the release module, gzipped.
const GZIP_TARGET_BYTES: u64 = 400 * 1024;

pub fn frontend_dir() -> PathBuf {
    root().join("frontend")
}

pub fn dist_dir() -> PathBuf {
    frontend_dir().join("dist")
}

/// The front end is its own workspace with its own target folder (wasm artifacts do not
/// mix with the server's), whatever CARGO_TARGET_DIR the caller has set.
fn frontend_target_dir() -> PathBuf {
    frontend_dir().join("target")
}

fn cargo_bin_dir() -> PathBuf {
    match std::env::var_os("CARGO_HOME") {
        Some(home) => PathBuf::from(home).join("bin"),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo/bin"),
    }
}

/// PATH with npm's wasm-opt first (so trunk cannot pick up another one) and cargo's
/// installed tools next.
fn tool_path() -> OsString {
    let mut dirs = vec![root().join("node_modules/.bin"), cargo_bin_dir()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// A command that finds the project's tools first.
fn tool(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("PATH", tool_path());
    cmd
}

/// Runs a prepared command, failing with its title if it fails.
fn run(title: &str, mut cmd: Command) -> Result<(), String> {
    println!("==> {title}");
    let started = Instant::now();
    let status = cmd.status().map_err(|e| format!("{title}: could not start {:?}: {e}", cmd.get_program()))?;
    println!("    ({title}: {:.0} s)", started.elapsed().as_secs_f64());
    if status.success() { Ok(()) } else { Err(format!("{title} failed ({status})")) }
}

/// What `program --version` prints, if it runs.
fn version_of(mut cmd: Command) -> Option<String> {
    let out = cmd.arg("--version").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The wasm-bindgen crate version the front end is locked to: the CLI must be the same.
fn wasm_bindgen_version() -> String {
    let lock = std::fs::read_to_string(frontend_dir().join("Cargo.lock")).unwrap_or_default();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(version) = lines.next().and_then(|l| l.trim().strip_prefix("version = \""))
        {
            return version.trim_end_matches('"').to_owned();
        }
    }
    WASM_BINDGEN_FALLBACK.to_owned()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Installs Debian packages (CI runs as root; elsewhere sudo is asked without a prompt).
fn apt_install(why: &str, packages: &[&str]) -> Result<(), String> {
    static UPDATED: AtomicBool = AtomicBool::new(false);
    let apt = |args: &[&str]| {
        let mut cmd = if is_root() {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    if Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!("{why}: install {} with your package manager (apt-get was not found)", packages.join(" ")));
    }
    if !UPDATED.swap(true, Ordering::SeqCst) {
        run("apt-get update", apt(&["update", "-q"]))?;
    }
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    run(&format!("installing {} ({why})", packages.join(", ")), apt(&args))
}

/// The wasm32 target, trunk, a wasm-bindgen-cli equal to the locked crate, and
/// wasm-opt from npm. Each step is skipped when the right version is present.
pub fn ensure_frontend_tools() -> Result<(), String> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if !installed.map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "wasm32-unknown-unknown")).unwrap_or(false) {
        let mut cmd = Command::new("rustup");
        cmd.args(["target", "add", "wasm32-unknown-unknown"]);
        run("adding the wasm32-unknown-unknown target", cmd)?;
    }

    if !version_of(tool("trunk")).is_some_and(|v| v.split_whitespace().any(|w| w == TRUNK_VERSION)) {
        let mut cmd = Command::new("cargo");
        cmd.args(["install", "trunk", "--locked", "--version", TRUNK_VERSION]);
        run(&format!("installing trunk {TRUNK_VERSION} (about 9 minutes on 2 cores, once)"), cmd)?;
    }

    let bindgen = wasm_bindgen_version();
    if !version_of(tool("wasm-bindgen")).is_some_and(|v| v.split_whitespace().any(|w| w == bindgen)) {
        // Not --locked: the CLI's lockfile names a webpki-roots release some crates.io
        // mirrors lack, and the resolved versions work.
        let mut cmd = Command::new("cargo");
        cmd.args(["install", "wasm-bindgen-cli", "--force", "--version", &bindgen]);
        run(&format!("installing wasm-bindgen-cli {bindgen} (about 3 minutes, once)"), cmd)?;
    }

    let wasm_opt = root().join("node_modules/.bin/wasm-opt");
    if !version_of(tool(&wasm_opt.to_string_lossy())).is_some_and(|v| v.contains(WASM_OPT_VERSION)) {
        if version_of(Command::new("npm")).is_none() {
            apt_install("npm installs wasm-opt", &["nodejs", "npm"])?;
        }
        let mut cmd = Command::new("npm");
        cmd.args(["ci", "--no-audit", "--no-fund"]).current_dir(root());
        run("installing wasm-opt (npm binaryen, package-lock.json)", cmd)?;
    }
    Ok(())
}

/// A cargo command for the front-end workspace.
fn frontend_cargo(args: &[&str]) -> Command {
    let mut cmd = tool("cargo");
    cmd.args(args).current_dir(frontend_dir()).env("CARGO_TARGET_DIR", frontend_target_dir());
    cmd
}

/// `cargo fetch`, then `trunk build` into `frontend/dist`. trunk runs offline (it
/// passes `--offline` to cargo too), hence the fetch first.
pub fn build_frontend(release: bool) -> Result<(), String> {
    if !frontend_dir().join("Cargo.toml").is_file() {
        return Err(format!("no front end to build: {} is missing", frontend_dir().join("Cargo.toml").display()));
    }
    ensure_frontend_tools()?;
    run("fetching the front end's crates", frontend_cargo(&["fetch"]))?;
    let mut cmd = tool("trunk");
    cmd.arg("build").arg("--offline");
    if release {
        cmd.arg("--release");
    }
    cmd.current_dir(frontend_dir()).env("CARGO_TARGET_DIR", frontend_target_dir());
    run(if release { "building the front end (trunk, release)" } else { "building the front end (trunk, debug)" }, cmd)
}

/// The front end's own checks, as strict as the server's: formatting, clippy for the
/// wasm32 target with warnings as errors, and the unit tests of its pure modules
/// (config, formatting, the form's rules), which run natively.
pub fn check_frontend() -> Result<(), String> {
    ensure_frontend_tools()?;
    run("front end: formatting", frontend_cargo(&["fmt", "--all", "--", "--check"]))?;
    run(
        "front end: clippy (wasm32)",
        frontend_cargo(&["clippy", "--workspace", "--all-targets", "--target", "wasm32-unknown-unknown", "--", "-D", "warnings"]),
    )?;
    run("front end: unit tests", frontend_cargo(&["test", "--workspace"]))
}

/// Headless Chromium and its WebDriver, from Debian, for the browser tests.
pub fn ensure_browser() -> Result<(), String> {
    let present = |p: &str| Path::new("/usr/bin").join(p).is_file();
    if !present("chromedriver") || !present("chromium") {
        apt_install("the browser tests drive headless Chromium", &["chromium", "chromium-driver"])?;
    }
    Ok(())
}

/// Everything the browser tests need before nextest runs them: the front end's checks,
/// its release build, and the browser.
pub fn prepare_browser_tests() -> Result<(), String> {
    check_frontend()?;
    build_frontend(true)?;
    ensure_browser()
}

/// `cargo xtask size`: the release module's size, raw and gzipped, against the budget.
pub fn size() -> Result<(), String> {
    build_frontend(true)?;
    check_size()
}

/// The size of the module already built in `frontend/dist`, against the budget; an error
/// when it is over. `cargo xtask test` runs this after its release build, so CI fails on
/// a front end over budget without building it twice.
pub fn check_size() -> Result<(), String> {
    println!("==> front end: release WASM size (budget {} KB gzipped)", GZIP_TARGET_BYTES / 1024);
    let dist = dist_dir();
    let mut wasm: Vec<PathBuf> = std::fs::read_dir(&dist)
        .map_err(|e| format!("reading {}: {e}", dist.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    wasm.sort();
    let Some(module) = wasm.first() else { return Err(format!("no .wasm in {}", dist.display())) };
    let bytes = std::fs::read(module).map_err(|e| format!("reading {}: {e}", module.display()))?;
    let gzipped = gzip_len(&bytes)?;
    let name = module.file_name().unwrap_or_default().to_string_lossy();
    println!("{name}");
    println!("  raw:     {:>9} bytes ({:.1} KB)", bytes.len(), bytes.len() as f64 / 1024.0);
    println!("  gzip -9: {:>9} bytes ({:.1} KB)", gzipped, gzipped as f64 / 1024.0);
    println!("  target:  {:>9} bytes ({} KB gzipped)", GZIP_TARGET_BYTES, GZIP_TARGET_BYTES / 1024);
    within_budget(gzipped)?;
    println!("  within the target ({:.0}% of it)", gzipped as f64 * 100.0 / GZIP_TARGET_BYTES as f64);
    Ok(())
}

/// The verdict on a gzipped size: over the budget is an error.
fn within_budget(gzipped: u64) -> Result<(), String> {
    if gzipped > GZIP_TARGET_BYTES {
        return Err(format!("the release module is {gzipped} bytes gzipped, over the {} KB target", GZIP_TARGET_BYTES / 1024));
    }
    Ok(())
}

fn gzip_len(bytes: &[u8]) -> Result<u64, String> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).and_then(|()| encoder.finish()).map(|out| out.len() as u64).map_err(|e| format!("gzip: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_over_the_budget_fails_the_check() {
        assert_eq!(within_budget(GZIP_TARGET_BYTES), Ok(()));
        let over = within_budget(GZIP_TARGET_BYTES + 1).unwrap_err();
        assert!(over.contains("over the 400 KB target"), "{over}");
    }

    #[test]
    fn gzip_shrinks_repetitive_input() {
        let input = vec![b'a'; 10_000];
        let len = gzip_len(&input).unwrap();
        assert!(len < 100, "{len}");
    }

    #[test]
    fn the_wasm_bindgen_cli_matches_the_front_ends_lockfile() {
        let lock = std::fs::read_to_string(frontend_dir().join("Cargo.lock")).unwrap_or_default();
        let version = wasm_bindgen_version();
        if lock.contains("name = \"wasm-bindgen\"") {
            assert!(lock.contains(&format!("name = \"wasm-bindgen\"\nversion = \"{version}\"")), "{version}");
        } else {
            assert_eq!(version, WASM_BINDGEN_FALLBACK);
        }
    }
}
