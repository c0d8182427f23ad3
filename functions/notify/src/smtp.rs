//! Email over SMTP, for the local stack (and any relay a team already runs). Plain
//! text, with the deep link written out. Credentials are optional and never leave
//! the transport; they are refused on an unencrypted connection to another host.

use std::time::Duration;

use async_trait::async_trait;
use hogwarden_core::ports::{Notification, Notifier};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::error::NotifyError;
use crate::render::text_body;

const CHANNEL: &str = "smtp";

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// No TLS: only sensible for a relay on this machine.
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl SmtpTls {
    /// Reads `none`, `starttls` or `tls`.
    pub fn parse(value: &str) -> Result<Self, NotifyError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            other => Err(NotifyError::Config(format!("HOGWARDEN_SMTP_TLS is '{other}'; use none, starttls or tls"))),
        }
    }
}

/// Where and as whom to send email.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// The sender, e.g. `Hogwarden <hogwarden@example.com>`.
    pub from: Mailbox,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub tls: SmtpTls,
    pub timeout: Duration,
}

impl SmtpConfig {
    /// A configuration without credentials; TLS is off for a loopback host and
    /// STARTTLS otherwise.
    pub fn new(host: impl Into<String>, port: u16, from: &str) -> Result<Self, NotifyError> {
        let host = host.into();
        let from = from.parse::<Mailbox>().map_err(|e| NotifyError::Config(format!("HOGWARDEN_SMTP_FROM is not a mailbox ({e})")))?;
        let tls = if is_loopback(&host) { SmtpTls::None } else { SmtpTls::StartTls };
        Ok(Self { host, port, from, username: None, password: None, tls, timeout: Duration::from_secs(15) })
    }
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
}

/// Sends each notification as one plain-text email.
#[derive(Clone)]
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl std::fmt::Debug for SmtpNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpNotifier").field("server", &self.server).field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl SmtpNotifier {
    pub fn new(config: SmtpConfig) -> Result<Self, NotifyError> {
        let credentials = match (config.username, config.password) {
            (Some(user), Some(password)) => Some(Credentials::new(user, password.expose_secret().to_owned())),
            (None, None) => None,
            (Some(_), None) => return Err(NotifyError::Config("HOGWARDEN_SMTP_USERNAME is set but HOGWARDEN_SMTP_PASSWORD is not".into())),
            (None, Some(_)) => return Err(NotifyError::Config("HOGWARDEN_SMTP_PASSWORD is set but HOGWARDEN_SMTP_USERNAME is not".into())),
        };
        if credentials.is_some() && config.tls == SmtpTls::None && !is_loopback(&config.host) {
            return Err(NotifyError::Config(format!(
                "refusing to send SMTP credentials unencrypted to {}; set HOGWARDEN_SMTP_TLS to starttls or tls",
                config.host
            )));
        }
        let tls_error = |e: lettre::transport::smtp::Error| NotifyError::Config(format!("SMTP TLS for {}: {e}", config.host));
        let builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host).map_err(tls_error)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(tls_error)?,
        };
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        Ok(Self { transport: builder.build(), from: config.from, server: format!("{}:{}", config.host, config.port) })
    }

    fn message(&self, n: &Notification) -> Result<Message, NotifyError> {
        let to =
            n.to.as_str().parse::<Address>().map_err(|e| NotifyError::Invalid { channel: CHANNEL, detail: format!("recipient: {e}") })?;
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(n.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(text_body(n))
            .map_err(|e| NotifyError::Invalid { channel: CHANNEL, detail: e.to_string() })
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    #[tracing::instrument(skip_all, fields(channel = CHANNEL, server = %self.server))]
    async fn notify(&self, notification: Notification) -> hogwarden_core::error::Result<()> {
        let message = self.message(&notification)?;
        self.transport.send(message).await.map(drop).map_err(|e| {
            let error = if e.is_permanent() {
                NotifyError::Rejected { channel: CHANNEL, status: e.status().map(|c| c.to_string()).unwrap_or_default() }
            } else {
                NotifyError::Unavailable { channel: CHANNEL, detail: e.to_string() }
            };
            tracing::error!(error = %error, "email not delivered");
            error.into()
        })
    }
}
