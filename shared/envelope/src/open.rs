//! Opening: backup stream in, plaintext stream out, one chunk in memory at a time.
//!
//! Every chunk is authenticated before its plaintext is written, and the last chunk only
//! after the end of input is confirmed. Earlier chunks are written before later ones are
//! checked, so a failure leaves a partial output: use `open_file` unless the caller can
//! discard what was written.

use std::io::{Read, Write};

use zeroize::Zeroizing;

use crate::error::EnvelopeError;
use crate::header::{HEADER_LEN, Header};
use crate::key::DerivedKey;
use crate::layout::{TAG_LEN, chunk_plaintext_len};
use crate::password::Password;
use crate::reader::{has_more, read_full};

/// Opens a backup sealed for `serial` with `password`, writing the plaintext to `output`.
///
/// The header is checked (bounds included) before the KDF runs, so a hostile header
/// cannot make this allocate more than `KdfParams::MAX_MEMORY_KIB`.
pub fn open<R: Read, W: Write>(
    password: &Password,
    serial: &str,
    mut input: R,
    output: W,
) -> Result<Header, EnvelopeError> {
    let header = read_header(&mut input)?;
    let key = DerivedKey::derive(password, serial, &header)?;
    open_payload(&key, input, output)?;
    Ok(header)
}

/// Opens a backup with an already derived key. A backup whose header differs from the
/// key's is refused as `wrong_password_or_serial`, as `open` would refuse it.
pub fn open_with_key<R: Read, W: Write>(
    key: &DerivedKey,
    mut input: R,
    output: W,
) -> Result<Header, EnvelopeError> {
    let header = read_header(&mut input)?;
    if header != *key.header() {
        return Err(EnvelopeError::WrongPasswordOrSerial);
    }
    open_payload(key, input, output)?;
    Ok(header)
}

fn read_header<R: Read>(input: &mut R) -> Result<Header, EnvelopeError> {
    let mut bytes = [0u8; HEADER_LEN];
    let len = read_full(input, &mut bytes)?;
    Header::parse(&bytes[..len])
}

fn open_payload<R: Read, W: Write>(
    key: &DerivedKey,
    mut input: R,
    mut output: W,
) -> Result<(), EnvelopeError> {
    let header = key.header();
    let cipher = key.chunk_cipher();
    let (plaintext_len, chunk_size) = (header.plaintext_len(), header.chunk_size());
    let chunks = header.chunk_count();
    let mut buf = Zeroizing::new(vec![0u8; chunk_size.as_usize() + TAG_LEN]);
    for index in 0..chunks {
        let len = chunk_plaintext_len(plaintext_len, chunk_size, index);
        if read_full(&mut input, &mut buf[..len + TAG_LEN])? < len + TAG_LEN {
            return Err(EnvelopeError::Truncated { chunk: index });
        }
        let last = index + 1 == chunks;
        let counter = u32::try_from(index).expect("Header bounds chunks to 2^32");
        let (chunk, tag) = buf[..len + TAG_LEN].split_at_mut(len);
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().expect("split at len leaves TAG_LEN");
        cipher.open(counter, last, chunk, tag).map_err(|_| {
            // The first chunk is where a wrong key shows; later ones share its key, so a
            // failure there means the bytes changed.
            if index == 0 {
                EnvelopeError::WrongPasswordOrSerial
            } else {
                EnvelopeError::Corrupted { chunk: index }
            }
        })?;
        if last && has_more(&mut input)? {
            return Err(EnvelopeError::TrailingData);
        }
        output.write_all(chunk)?;
    }
    output.flush()?;
    Ok(())
}
