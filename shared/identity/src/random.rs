//! The OS random source, the only outside input this crate reads.

/// Fills an array from the OS CSPRNG. Without randomness no key, salt or token is safe
/// to issue, so failure aborts the request rather than degrading.
pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the OS random source is unavailable");
    buf
}
