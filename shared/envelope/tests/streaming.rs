//! Sealing and opening stream: 64 MiB goes through a generating reader, an OS pipe and a
//! counting writer, none of which stores the data, and at no point does either side get
//! more than about one chunk ahead of the other. (The resident-memory figure is in the
//! bench, `cargo bench -p rampart-envelope`.)

mod support;

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rampart_envelope::{ChunkSize, HEADER_LEN, TAG_LEN, open, seal, sealed_len};
use support::*;

const TOTAL: u64 = 64 << 20;
const CHUNK_SIZE: u64 = 64 << 10;

/// The test stream repeats this block; its odd length never lines up with a chunk, so a
/// reordered or repeated chunk would not compare equal.
fn block() -> &'static [u8] {
    static BLOCK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BLOCK.get_or_init(|| sample(1_000_003))
}

/// Copies the stream's bytes from offset `at` into `buf` (slice copies: debug builds are
/// slow byte by byte).
fn fill_at(mut at: u64, buf: &mut [u8]) {
    let block = block();
    let mut done = 0;
    while done < buf.len() {
        let from = (at % block.len() as u64) as usize;
        let n = (block.len() - from).min(buf.len() - done);
        buf[done..done + n].copy_from_slice(&block[from..from + n]);
        done += n;
        at += n as u64;
    }
}

/// Produces `TOTAL` pattern bytes; before each read, checks that the consumer has not
/// fallen more than `slack` bytes behind.
struct Pattern {
    pos: u64,
    consumed: Arc<AtomicU64>,
    produced: Arc<AtomicU64>,
    slack: u64,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let behind = self.pos - self.produced.load(Ordering::SeqCst).min(self.pos);
        assert!(
            behind <= self.slack,
            "sealer holds {behind} bytes unwritten"
        );
        let n = buf.len().min((TOTAL - self.pos) as usize);
        fill_at(self.pos, &mut buf[..n]);
        self.pos += n as u64;
        self.consumed.store(self.pos, Ordering::SeqCst);
        Ok(n)
    }
}

/// Counts the bytes written to it (and checks them against the pattern when `verify`).
struct Counter {
    count: Arc<AtomicU64>,
    verify: bool,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let start = self.count.load(Ordering::SeqCst);
        if self.verify {
            let mut expected = vec![0u8; buf.len()];
            fill_at(start, &mut expected);
            assert!(
                buf == expected,
                "plaintext differs in {start}..+{}",
                buf.len()
            );
        }
        self.count.store(start + buf.len() as u64, Ordering::SeqCst);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts what the opener has read from the pipe; before each read, checks it holds at
/// most the chunk it is reading: what it read is at most the sealed size of what it
/// wrote (header, plaintext, one tag per chunk) plus one chunk and its tag.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.count.load(Ordering::SeqCst);
        let written = self.written.load(Ordering::SeqCst);
        let tag = TAG_LEN as u64;
        let accounted = HEADER_LEN as u64 + written + written / CHUNK_SIZE * tag;
        assert!(
            read <= accounted + CHUNK_SIZE + tag,
            "opener read {read} bytes but released only {written}"
        );
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}

#[test]
fn sixty_four_mib_stream_through_a_pipe_without_being_stored() {
    let (pipe_reader, pipe_writer) = io::pipe().unwrap();
    let mut options = options(CHUNK);
    options.chunk_size = ChunkSize::new(CHUNK_SIZE as u32).unwrap();

    let sealer = std::thread::spawn(move || {
        let consumed = Arc::new(AtomicU64::new(0));
        let sealed_out = Arc::new(AtomicU64::new(0));
        let input = Pattern {
            pos: 0,
            consumed: consumed.clone(),
            // Plaintext read minus sealed bytes out: at most the chunk being read.
            produced: sealed_out.clone(),
            slack: CHUNK_SIZE,
        };
        // Tee the sealed stream into the pipe while counting it.
        struct Tee(io::PipeWriter, Arc<AtomicU64>);
        impl Write for Tee {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = self.0.write(buf)?;
                self.1.fetch_add(n as u64, Ordering::SeqCst);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.0.flush()
            }
        }
        let header = seal(
            &password(),
            SERIAL,
            options,
            TOTAL,
            input,
            Tee(pipe_writer, sealed_out.clone()),
        )
        .unwrap();
        (
            header,
            consumed.load(Ordering::SeqCst),
            sealed_out.load(Ordering::SeqCst),
        )
    });

    let plaintext_out = Arc::new(AtomicU64::new(0));
    let pipe_read = Arc::new(AtomicU64::new(0));
    let input = CountingReader {
        inner: pipe_reader,
        count: pipe_read.clone(),
        written: plaintext_out.clone(),
    };
    let opened = open(
        &password(),
        SERIAL,
        input,
        Counter {
            count: plaintext_out.clone(),
            verify: true,
        },
    )
    .unwrap();
    let (sealed_header, consumed, sealed_bytes) = sealer.join().unwrap();
    assert_eq!(opened, sealed_header);
    assert_eq!(consumed, TOTAL);
    assert_eq!(sealed_bytes, sealed_len(TOTAL, CHUNK_SIZE as u32));
    assert_eq!(pipe_read.load(Ordering::SeqCst), sealed_bytes);
    assert_eq!(plaintext_out.load(Ordering::SeqCst), TOTAL);
}
