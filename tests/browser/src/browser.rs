//! One person's browser, with the three verbs tests are written in:
//! **find** (wait until something is on the page), **act** (click, fill, choose) and
//! **check** (assert what the page shows). Every wait has a deadline and a failure
//! saves a screenshot, so a failed run shows what the browser saw.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::Client;
use fantoccini::Locator;
use fantoccini::elements::Element;

use crate::driver::Driver;
use crate::locate::Target;

/// How long a find waits for the page (the machine may be busy building).
const PATIENCE: Duration = Duration::from_secs(20);

/// The screenshots of one test, numbered in the order they were taken across all of
/// its browsers: `tests/output/browser/<test>/NN-<who>-<step>.png`.
#[derive(Debug, Clone)]
pub struct Screenshots {
    pub dir: PathBuf,
    next: Arc<AtomicUsize>,
}

impl Screenshots {
    pub fn new(test: &str) -> anyhow::Result<Self> {
        let dir = crate::workspace_root().join("tests/output/browser").join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir, next: Arc::new(AtomicUsize::new(1)) })
    }

    fn path(&self, who: &str, step: &str) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let slug: String = step.chars().take(60).map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        self.dir.join(format!("{n:02}-{who}-{slug}.png"))
    }
}

/// A headless Chromium of its own (own chromedriver, own profile) for one person.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    /// Short name in screenshot files, e.g. `frank`.
    pub who: String,
    base_url: String,
    shots: Screenshots,
    // Last, so it is dropped after the client: it kills chromedriver and Chromium.
    _driver: Driver,
}

impl Browser {
    pub async fn open(who: &str, base_url: &str, shots: Screenshots) -> anyhow::Result<Self> {
        let driver = Driver::start().await?;
        let client = driver.session().await?;
        Ok(Self { client, who: who.to_owned(), base_url: base_url.trim_end_matches('/').to_owned(), shots, _driver: driver })
    }

    /// Opens a page of the app, e.g. `/` or `/#/inbox`.
    pub async fn goto(&self, path: &str) -> anyhow::Result<()> {
        self.client.goto(&format!("{}{path}", self.base_url)).await.with_context(|| format!("{}: opening {path}", self.who))
    }

    /// Saves a screenshot of the whole window as the next numbered step.
    pub async fn screenshot(&self, step: &str) -> anyhow::Result<PathBuf> {
        let png = self.client.screenshot().await.context("taking a screenshot")?;
        let path = self.shots.path(&self.who, step);
        std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Ends the WebDriver session; the driver's guard then stops chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        drop(self);
    }

    // ----- find -----

    /// Waits until the target is displayed on the page and returns it.
    pub async fn find(&self, target: Target<'_>) -> anyhow::Result<Element> {
        self.find_in(None, target).await
    }

    /// Waits until the target is displayed inside `scope` and returns it.
    pub async fn find_within(&self, scope: &Element, target: Target<'_>) -> anyhow::Result<Element> {
        self.find_in(Some(scope), target).await
    }

    async fn find_in(&self, scope: Option<&Element>, target: Target<'_>) -> anyhow::Result<Element> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(e) = self.visible(scope, target).await?.into_iter().next() {
                return Ok(e);
            }
            if Instant::now() > deadline {
                return Err(self.failure(&format!("waited {} s for {target}", PATIENCE.as_secs())).await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The displayed matches right now (no waiting).
    pub async fn visible(&self, scope: Option<&Element>, target: Target<'_>) -> anyhow::Result<Vec<Element>> {
        let xpath = target.xpath();
        let found = match scope {
            Some(s) => s.find_all(Locator::XPath(&xpath)).await,
            None => self.client.find_all(Locator::XPath(&format!("/html/body{}", &xpath[1..]))).await,
        };
        let mut shown = Vec::new();
        // An element can go away between finding it and asking; that is "not shown".
        for e in found.unwrap_or_default() {
            if e.is_displayed().await.unwrap_or(false) {
                shown.push(e);
            }
        }
        Ok(shown)
    }

    // ----- act -----

    pub async fn click(&self, target: Target<'_>) -> anyhow::Result<()> {
        let e = self.find(target).await?;
        e.click().await.with_context(|| format!("{}: clicking {target}", self.who))
    }

    pub async fn click_within(&self, scope: &Element, target: Target<'_>) -> anyhow::Result<()> {
        let e = self.find_within(scope, target).await?;
        e.click().await.with_context(|| format!("{}: clicking {target}", self.who))
    }

    /// Replaces the text of the field with this label.
    pub async fn fill(&self, label: &str, text: &str) -> anyhow::Result<()> {
        let e = self.find(Target::Field(label)).await?;
        e.clear().await.with_context(|| format!("clearing \"{label}\""))?;
        e.send_keys(text).await.with_context(|| format!("typing into \"{label}\""))
    }

    /// Sets a date or time field's value (typing into one depends on the browser's
    /// locale) and fires the `input` and `change` events the page listens to.
    pub async fn set_value(&self, label: &str, value: &str) -> anyhow::Result<()> {
        let e = self.find(Target::Field(label)).await?;
        let script = "const [e, v] = arguments; e.value = v; \
                      e.dispatchEvent(new Event('input', { bubbles: true })); \
                      e.dispatchEvent(new Event('change', { bubbles: true }));";
        self.client
            .execute(script, vec![serde_json::to_value(&e)?, serde_json::Value::from(value)])
            .await
            .with_context(|| format!("setting \"{label}\" to {value:?}"))?;
        Ok(())
    }

    /// Chooses the option with this text in the select with this label. Options are
    /// compared by their text here rather than in an XPath, so any text (quotes too) works.
    pub async fn choose(&self, label: &str, option: &str) -> anyhow::Result<()> {
        let e = self.find(Target::Field(label)).await?;
        for o in e.find_all(Locator::Css("option")).await? {
            if o.text().await?.trim() == option {
                return o.click().await.with_context(|| format!("choosing \"{option}\" in \"{label}\""));
            }
        }
        Err(self.failure(&format!("\"{label}\" has no option \"{option}\"")).await)
    }

    /// Ticks or unticks the checkbox with this label.
    pub async fn set_checked(&self, label: &str, checked: bool) -> anyhow::Result<()> {
        let e = self.find(Target::Field(label)).await?;
        if e.is_selected().await? != checked {
            e.click().await?;
        }
        Ok(())
    }

    // ----- check -----

    /// Asserts the target shows up (waiting for it).
    pub async fn check_shown(&self, target: Target<'_>) -> anyhow::Result<()> {
        self.find(target).await.map(drop)
    }

    /// Asserts the target is not on the page (after the page has settled on `settled`).
    pub async fn check_absent_within(&self, scope: &Element, target: Target<'_>) -> anyhow::Result<()> {
        if !self.visible(Some(scope), target).await?.is_empty() {
            return Err(self.failure(&format!("{target} should not be shown")).await);
        }
        Ok(())
    }

    /// Waits until the target is gone (e.g. an approved request leaving the inbox).
    pub async fn check_gone(&self, target: Target<'_>) -> anyhow::Result<()> {
        let deadline = Instant::now() + PATIENCE;
        while !self.visible(None, target).await?.is_empty() {
            if Instant::now() > deadline {
                return Err(self.failure(&format!("{target} is still shown after {} s", PATIENCE.as_secs())).await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// The visible text of the element, whitespace collapsed.
    pub async fn text_of(&self, e: &Element) -> anyhow::Result<String> {
        Ok(e.text().await?.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// The texts of one column of a table (by caption and column header), top to bottom.
    pub async fn column(&self, caption: &str, header: &str) -> anyhow::Result<Vec<String>> {
        let table = self.find(Target::Table(caption)).await?;
        let headers = table.find_all(Locator::XPath(".//thead//th | .//tr[1]/th")).await?;
        let mut index = None;
        for (i, h) in headers.iter().enumerate() {
            if h.text().await?.trim() == header {
                index = Some(i + 1);
                break;
            }
        }
        let Some(index) = index else { bail!("table \"{caption}\" has no column \"{header}\"") };
        let cells = table.find_all(Locator::XPath(&format!(".//tbody/tr/*[self::td or self::th][{index}]"))).await?;
        let mut texts = Vec::new();
        for c in cells {
            texts.push(self.text_of(&c).await?);
        }
        Ok(texts)
    }

    /// An error that says what was expected, with the page's address, its alerts and a
    /// screenshot of it.
    async fn failure(&self, what: &str) -> anyhow::Error {
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let mut alerts = Vec::new();
        for a in self.visible(None, Target::Alert("")).await.unwrap_or_default() {
            alerts.push(self.text_of(&a).await.unwrap_or_default());
        }
        let shot = self.screenshot(&format!("FAILED {what}")).await.map(|p| p.display().to_string()).unwrap_or_default();
        anyhow::anyhow!("{}: {what} (at {url}; alerts: {alerts:?}; screenshot: {shot})", self.who)
    }
}
