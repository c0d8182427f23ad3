//! Email through Amazon SES (the v2 API), for the AWS deployment. The client is
//! built once by the Lambda's wiring and handed in; this type only sends.

use async_trait::async_trait;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use hogwarden_core::ports::{Notification, Notifier};

use crate::error::NotifyError;
use crate::render::text_body;

const CHANNEL: &str = "ses";

/// Errors SES gives for a message or an account that will not send, however often
/// it is tried (SES v2 API reference, SendEmail "Errors").
const PERMANENT: &[&str] = &[
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "SendingPausedException",
    "BadRequestException",
    "NotFoundException",
];

/// Sends each notification as one plain-text email from a verified SES identity.
#[derive(Debug, Clone)]
pub struct SesNotifier {
    client: aws_sdk_sesv2::Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesNotifier {
    /// `from` is the verified sender, e.g. `Hogwarden <hogwarden@example.com>`.
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Result<Self, NotifyError> {
        let from = from.into();
        from.parse::<lettre::message::Mailbox>()
            .map_err(|e| NotifyError::Config(format!("HOGWARDEN_EMAIL_FROM is not a mailbox ({e})")))?;
        Ok(Self { client, from, configuration_set: None })
    }

    /// Sends through an SES configuration set (for event publishing or a dedicated IP pool).
    #[must_use]
    pub fn with_configuration_set(mut self, name: impl Into<String>) -> Self {
        self.configuration_set = Some(name.into());
        self
    }
}

fn content(data: String) -> Result<Content, NotifyError> {
    Content::builder().data(data).charset("UTF-8").build().map_err(|e| NotifyError::Invalid { channel: CHANNEL, detail: e.to_string() })
}

#[async_trait]
impl Notifier for SesNotifier {
    #[tracing::instrument(skip_all, fields(channel = CHANNEL))]
    async fn notify(&self, notification: Notification) -> hogwarden_core::error::Result<()> {
        let body = Body::builder().text(content(text_body(&notification))?).build();
        let message = Message::builder().subject(content(notification.subject.clone())?).body(body).build();
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(notification.to.as_str()).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await;
        match sent {
            Ok(out) => {
                tracing::debug!(message_id = out.message_id().unwrap_or_default(), "email sent");
                Ok(())
            }
            Err(e) => {
                let code = e.code().unwrap_or_default().to_owned();
                let error = if PERMANENT.contains(&code.as_str()) {
                    NotifyError::Rejected { channel: CHANNEL, status: format!("{code}: {}", e.message().unwrap_or_default()) }
                } else {
                    NotifyError::Unavailable { channel: CHANNEL, detail: DisplayErrorContext(&e).to_string() }
                };
                tracing::error!(error = %error, "email not delivered");
                Err(error.into())
            }
        }
    }
}
