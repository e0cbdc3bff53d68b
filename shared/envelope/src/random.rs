//! The OS random source, the only outside input sealing reads besides its arguments.

use crate::error::EnvelopeError;

/// Fills an array from the OS CSPRNG. Failure is reported, not papered over: a salt or
/// nonce prefix that is not random could repeat a key or nonce.
pub(crate) fn bytes<const N: usize>() -> Result<[u8; N], EnvelopeError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)
        .map_err(|e| EnvelopeError::Io(std::io::Error::other(e.to_string())))?;
    Ok(buf)
}
