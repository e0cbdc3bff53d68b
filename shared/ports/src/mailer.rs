//! The mailer port: password-reset and invitation links leave the console here
//! (SES on AWS; an outbox directory self-hosted).

use async_trait::async_trait;

use crate::StoreError;

/// One plain-text message. Its body may carry a one-time link: adapters never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, mail: Mail) -> Result<(), StoreError>;
}
