//! The one error type every storage adapter returns.

/// What went wrong in a store call, in terms the application can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition on a put, update or delete did not hold; nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was refused as a whole (a condition failed or it conflicted);
    /// nothing of it was written.
    #[error("transaction canceled")]
    TransactionCanceled,
    /// The request is not valid for this port (too large, malformed cursor, ...).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The backing service failed or could not be reached.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> Self {
        Self::Unavailable(Box::new(e))
    }

    pub fn unavailable_msg(msg: impl Into<String>) -> Self {
        Self::Unavailable(msg.into().into())
    }
}
