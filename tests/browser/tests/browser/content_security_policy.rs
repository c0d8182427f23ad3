//! The pages carry a strict Content-Security-Policy, and the app works under it.

use hogwarden_browser_tests::pages::{PagePolicy, SignIn};
use hogwarden_browser_tests::{BrowserTest, MEMBER, Target};

/// The policy's directive `name`, as its list of sources.
fn directive<'a>(policy: &'a str, name: &str) -> Option<Vec<&'a str>> {
    policy.split(';').map(|d| d.split_whitespace().collect::<Vec<_>>()).find(|d| d.first() == Some(&name)).map(|d| d[1..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_runs_under_a_strict_csp_that_blocks_injected_scripts() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("the_app_runs_under_a_strict_csp").await?;

    // Act: the page and a client-side route, as plain HTTP.
    let http = reqwest::Client::new();
    let mut policies = Vec::new();
    for path in ["/", "/index.html", "/inbox"] {
        let response = http.get(t.url(path)).send().await?;
        assert_eq!(response.status(), 200, "GET {path}");
        let csp = response.headers().get("content-security-policy").map(|v| v.to_str().unwrap_or_default().to_owned());
        policies.push((path, csp.unwrap_or_else(|| panic!("GET {path} has no Content-Security-Policy header"))));
    }

    // Assert: scripts from the origin and WebAssembly only; no plugins, <base> or framing.
    for (path, csp) in &policies {
        assert_eq!(directive(csp, "script-src"), Some(vec!["'self'", "'wasm-unsafe-eval'"]), "GET {path}: {csp}");
        assert_eq!(directive(csp, "object-src"), Some(vec!["'none'"]), "GET {path}: {csp}");
        assert_eq!(directive(csp, "base-uri"), Some(vec!["'none'"]), "GET {path}: {csp}");
        assert_eq!(directive(csp, "frame-ancestors"), Some(vec!["'none'"]), "GET {path}: {csp}");
        assert_eq!(directive(csp, "connect-src"), Some(vec!["'self'"]), "GET {path}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"), "GET {path}: {csp}");
    }

    // Act: the app starts and talks to the API under that policy.
    let frank = t.browser(MEMBER).await?;
    SignIn(&frank).find_page().await?;
    SignIn(&frank).act_sign_in_as(MEMBER).await?;

    // Assert
    SignIn(&frank).check_signed_in_as(MEMBER).await?;
    frank.check_shown(Target::Heading("Request access")).await?;
    frank.screenshot("signed in under the policy").await?;
    PagePolicy(&frank).check_inline_script_blocked().await?;
    PagePolicy(&frank).check_inline_handler_blocked().await?;
    frank.check_shown(Target::Heading("Request access")).await?;
    frank.close().await;
    t.shutdown().await;
    Ok(())
}
