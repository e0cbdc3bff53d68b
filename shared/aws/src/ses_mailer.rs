//! The mailer port on Amazon SES (API v2 `SendEmail`, simple content): SES builds
//! the MIME message, so subject and body go in as UTF-8 text.
//!
//! The body carries one-time links: it is never logged, and errors name only the
//! operation, the service's error code and its message.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use rampart_ports::{Mail, Mailer, StoreError};

use crate::aws_error::{code_of, invalid, unavailable};

const CHARSET: &str = "UTF-8";

/// Sends as `from`, which must be (or belong to a domain that is) a verified SES
/// identity the function's role may send from.
#[derive(Clone, Debug)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: String) -> Self {
        Self { client, from }
    }

    pub fn from_address(&self) -> &str {
        &self.from
    }

    /// Sends and returns the SES message id.
    pub async fn send_mail(&self, mail: Mail) -> Result<Option<String>, StoreError> {
        if mail.to.trim().is_empty() || mail.to.contains(['\r', '\n']) {
            return Err(StoreError::Invalid(
                "mail recipient is not an address".into(),
            ));
        }
        let text = |data: String| {
            Content::builder()
                .data(data)
                .charset(CHARSET)
                .build()
                .map_err(|e| StoreError::Invalid(format!("mail content: {e}")))
        };
        let message = Message::builder()
            .subject(text(mail.subject)?)
            .body(Body::builder().text(text(mail.body)?).build())
            .build();
        let to = mail.to;
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| match code_of(&e) {
                // Not worth retrying: the message or its addresses were refused.
                Some("BadRequestException" | "MessageRejected") => {
                    invalid("SESv2", "SendEmail", &e)
                }
                _ => unavailable("SESv2", "SendEmail", e),
            })?;
        let id = out.message_id().map(str::to_owned);
        tracing::info!(to = %to, message_id = ?id, "mail sent through SES");
        Ok(id)
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: Mail) -> Result<(), StoreError> {
        self.send_mail(mail).await.map(|_| ())
    }
}
