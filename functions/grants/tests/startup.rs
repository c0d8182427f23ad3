//! The real binary, started without its configuration, stops at once and says which
//! variable is wrong (what Lambda shows as an init error), before any AWS call.

use std::process::Command;

fn start(vars: &[(&str, &str)]) -> (bool, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_hogwarden-grants")).env_clear().envs(vars.iter().copied()).output().expect("the binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_missing_variable_stops_the_start_and_is_named() {
    let (ok, stderr) = start(&[]);

    assert!(!ok);
    assert!(stderr.contains("HOGWARDEN_TABLE is not set"), "{stderr}");
}

#[test]
fn an_invalid_variable_stops_the_start_and_is_named_without_its_value() {
    let (ok, stderr) = start(&[
        ("HOGWARDEN_TABLE", "hogwarden"),
        ("HOGWARDEN_POSTHOG_KEY_SECRET", "hogwarden/posthog-key"),
        ("POSTHOG_HOST", "https://eu.posthog.com"),
        ("POSTHOG_ORG_ID", "acme-not-a-uuid"),
        ("HOGWARDEN_WEB_URL", "https://hogwarden.example.com"),
    ]);

    assert!(!ok);
    assert!(stderr.contains("POSTHOG_ORG_ID is not valid"), "{stderr}");
    assert!(!stderr.contains("acme-not-a-uuid"), "{stderr}");
}
