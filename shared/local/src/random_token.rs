//! Unguessable identifiers (message ids, receipts, temp-file suffixes) from the OS RNG.

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS RNG failing is not recoverable in any useful way for an identifier.
    getrandom::fill(&mut buf).expect("operating system random number generator failed");
    hex::encode(buf)
}
