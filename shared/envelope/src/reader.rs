//! Filling a buffer from a reader that may return short reads (pipes, sockets).

use std::io::{self, Read};

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
/// Unlike `read_exact`, a short input is an answer, not an error: the caller knows
/// whether that means truncation.
pub(crate) fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Whether any byte is left in `input` (consumes at most one).
pub(crate) fn has_more<R: Read>(input: &mut R) -> io::Result<bool> {
    Ok(read_full(input, &mut [0u8; 1])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out one byte per read, and an interruption before each.
    struct Trickle<'a>(&'a [u8], bool);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn fills_across_short_and_interrupted_reads() {
        let mut input = Trickle(b"abcdef", false);
        let mut buf = [0u8; 4];
        assert_eq!(read_full(&mut input, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"abcd");
        assert_eq!(read_full(&mut input, &mut buf).unwrap(), 2);
        assert!(!has_more(&mut input).unwrap());
    }
}
