//! Workspace conventions that a reviewer would otherwise have to remember: the domain
//! depends on no AWS, HTTP or SQL crate, and no test is switched off.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("functions/core sits two levels below the root").to_path_buf()
}

/// Crates whose presence in core would mean the domain knows about an adapter.
const FORBIDDEN_IN_CORE: &[&str] =
    &["aws-", "aws_", "lambda", "reqwest", "hyper", "axum", "tower", "http", "rusqlite", "sqlx", "diesel", "tokio-postgres"];

#[test]
fn core_depends_on_no_aws_http_or_sql_crate() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut offenders = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            // Only normal dependencies count; dev-dependencies (tokio for tests) do not ship.
            in_deps = line == "[dependencies]";
            continue;
        }
        if !in_deps || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
        if FORBIDDEN_IN_CORE.iter().any(|f| name.starts_with(f)) {
            offenders.push(name.to_owned());
        }
    }
    assert!(offenders.is_empty(), "functions/core must not depend on {offenders:?}");
}

#[test]
fn core_sources_name_no_adapter_crate() {
    let mut offenders = Vec::new();
    for file in rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for needle in ["aws_sdk", "reqwest::", "axum::", "rusqlite::", "hyper::", "sqlx::"] {
            if text.contains(needle) {
                offenders.push(format!("{} uses {needle}", file.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn no_test_is_ignored_or_expected_to_panic() {
    let root = workspace_root();
    let mut offenders = Vec::new();
    for dir in ["functions", "tests", "xtask", "frontend"] {
        for file in rust_files(&root.join(dir)) {
            if file.ends_with("tidy.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for needle in ["#[ignore", "#[should_panic"] {
                if text.contains(needle) {
                    offenders.push(format!("{} has {needle}]", file.display()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "tests must run and assert behaviour: {offenders:#?}");
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target" || n == "dist" || n == "node_modules") {
                continue;
            }
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The PostHog write methods of the ports. Only the write path
/// (`usecases/writes.rs`) calls them; everything else hands it the write and its
/// authorization, so no path (bulk, SSO, offboarding, reviews, keys) can skip the
/// two-person rule.
const POSTHOG_WRITES: &[&str] = &[
    ".set_org_level(",
    ".set_project_role(",
    ".write_project_role(",
    ".set_object_access(",
    ".remove_member(",
    ".create_secret_key(",
    ".roll_secret_key(",
    ".delete_secret_key(",
    ".report_leaked_key(",
];

#[test]
fn only_the_write_path_calls_posthog_write_methods() {
    let root = workspace_root();
    let write_path = root.join("functions/core/src/usecases/writes.rs");
    // The port's own default method (a project-rule write built on another) is part of
    // the port, not a caller.
    let port = root.join("functions/core/src/ports.rs");
    let mut offenders = Vec::new();
    // The adapters implement the methods (and test them); every other server crate
    // reaches PostHog through core's use cases.
    for dir in ["functions/core/src", "functions/api/src", "functions/lambda/src", "functions/local/src"] {
        for file in rust_files(&root.join(dir)) {
            if file == write_path || file == port {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if let Some(call) = POSTHOG_WRITES.iter().find(|m| code.contains(*m)) {
                    offenders.push(format!("{}:{} calls {call}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "PostHog writes outside the write path: {offenders:#?}");
    // The check finds what it looks for.
    let sample = std::fs::read_to_string(&write_path).unwrap();
    assert!(POSTHOG_WRITES.iter().all(|m| sample.contains(m)), "the write path calls every write method");
}
