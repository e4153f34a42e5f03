//! Framing: bytes from a reader into whole lines, in one reused buffer.
//!
//! A line is only handed out once its newline has been read, so a writer
//! caught mid-line is never seen half-written. Lines longer than the limit are
//! skipped to their newline and reported once as `TooLong`.
//!
//! The framer also checks the bytes it reads for ASCII, a whole read at a
//! time, and marks each line that lies in a checked run: checking one line at
//! a time costs a call and a byte-by-byte tail per line, which was 8% of
//! parsing an access log.

use std::io::{self, Read};

/// One framed item.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line, without `\n` or `\r\n`, and whether every byte of
    /// it is known to be ASCII (`false`: unknown, the reader checks it).
    Line(&'a [u8], bool),
    /// A line over the limit was skipped (its bytes are consumed).
    TooLong,
}

/// Splits a byte stream into lines.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    max_line: usize,
    /// Inside an over-long line: drop bytes until the next newline.
    skipping: bool,
    /// Bytes consumed as complete lines (or skipped) since creation.
    consumed: u64,
    /// Every byte from an earlier `start` up to here is ASCII.
    ascii_end: usize,
    newline: ByteSearch,
}

/// `memchr` for one byte fixed in advance. On x86_64 with AVX2 (checked
/// once, when built) it calls the vector searcher itself: `memchr::memchr`
/// goes through a function pointer and builds its needle vectors on every
/// call, some 15 instructions of a search of a 200-byte line. The parsers
/// use it too (`clf` for quotes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ByteSearch {
    needle: u8,
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl ByteSearch {
    pub(crate) fn new(needle: u8) -> ByteSearch {
        ByteSearch {
            needle,
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(needle),
        }
    }

    /// Index of the first `needle` in `haystack`, as `memchr` finds it.
    #[inline]
    pub(crate) fn find(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = &self.avx2 {
            return one.find(haystack);
        }
        memchr::memchr(self.needle, haystack)
    }
}

impl Framer {
    /// `max_line` bounds memory: the buffer never grows past it plus one read.
    pub fn new(max_line: usize) -> Framer {
        let cap = (max_line + 1).max(256 * 1024);
        Framer {
            buf: vec![0; cap],
            start: 0,
            end: 0,
            max_line,
            skipping: false,
            consumed: 0,
            ascii_end: 0,
            newline: ByteSearch::new(b'\n'),
        }
    }

    /// Bytes consumed as whole lines: the offset a checkpoint may record.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Bytes of an incomplete last line held back.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Reads once into the free space. Returns bytes read (0 at EOF).
    pub fn fill<R: Read + ?Sized>(&mut self, r: &mut R) -> io::Result<usize> {
        if self.start > 0
            && (self.start == self.end || self.buf.len() - self.end < self.buf.len() / 4)
        {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.ascii_end = self.ascii_end.saturating_sub(self.start);
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // a line longer than the buffer: it is over the limit by construction
            self.skipping = true;
            self.consumed += (self.end - self.start) as u64;
            self.start = 0;
            self.end = 0;
            self.ascii_end = 0;
        }
        loop {
            match r.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    let old_end = self.end;
                    self.end += n;
                    // Extend the checked run only while it is unbroken.
                    if self.ascii_end >= old_end {
                        self.ascii_end = old_end + ascii_prefix(&self.buf[old_end..self.end]);
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next complete line, if the buffer holds one.
    #[inline]
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        let window = &self.buf[self.start..self.end];
        let nl = self.newline.find(window)?;
        let line_start = self.start;
        let ascii = line_start + nl <= self.ascii_end;
        self.start += nl + 1;
        self.consumed += nl as u64 + 1;
        if !ascii && self.start >= self.ascii_end {
            // Past a run broken by a non-ASCII byte: check what follows.
            self.ascii_end = self.start + ascii_prefix(&self.buf[self.start..self.end]);
        }
        if std::mem::take(&mut self.skipping) || nl > self.max_line {
            return Some(Frame::TooLong);
        }
        let mut line = &self.buf[line_start..line_start + nl];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        Some(Frame::Line(line, ascii))
    }

    /// At the true end of a finished input: the held-back bytes as a last
    /// line without its newline (replay of a file that lacks the final `\n`).
    pub fn take_rest(&mut self) -> Option<Frame<'_>> {
        if self.start == self.end {
            return None;
        }
        let (s, e) = (self.start, self.end);
        let ascii = e <= self.ascii_end;
        self.consumed += (e - s) as u64;
        self.start = e;
        if std::mem::take(&mut self.skipping) || e - s > self.max_line {
            return Some(Frame::TooLong);
        }
        Some(Frame::Line(&self.buf[s..e], ascii))
    }

    /// Drops held-back bytes (the reader was reset, e.g. a truncated file).
    pub fn reset(&mut self, consumed: u64) {
        self.start = 0;
        self.end = 0;
        self.skipping = false;
        self.consumed = consumed;
        self.ascii_end = 0;
    }
}

/// How many leading bytes are surely ASCII: whole 256-byte blocks up to the
/// first with a non-ASCII byte, and the tail if it has none. OR-ing a whole
/// block lets the compiler use vector instructions.
fn ascii_prefix(b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let mut blocks = b.chunks_exact(BLOCK);
    let mut n = 0;
    for block in &mut blocks {
        if block.iter().fold(0u8, |seen, &c| seen | c) >= 0x80 {
            return n;
        }
        n += BLOCK;
    }
    if blocks.remainder().iter().fold(0u8, |seen, &c| seen | c) < 0x80 {
        n += blocks.remainder().len();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_search_finds_what_memchr_finds() {
        let search = ByteSearch::new(b'\n');
        for len in 0..140 {
            let mut h = vec![b'x'; len];
            assert_eq!(search.find(&h), None, "{len}");
            for at in (0..len).rev() {
                h[at] = b'\n';
                assert_eq!(search.find(&h), memchr::memchr(b'\n', &h), "{len} {at}");
                assert_eq!(search.find(&h), Some(at), "{len} {at}");
            }
        }
    }

    fn frames(input: &[u8], max: usize, read_size: usize) -> Vec<String> {
        struct Chunked<'a>(&'a [u8], usize);
        impl Read for Chunked<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut r = Chunked(input, read_size);
        let mut f = Framer::new(max);
        let mut out = Vec::new();
        while f.fill(&mut r).unwrap() > 0 {
            while let Some(fr) = f.next_frame() {
                out.push(match fr {
                    Frame::Line(l, ascii) => {
                        // a line marked ASCII must be ASCII
                        assert!(!ascii || l.is_ascii());
                        String::from_utf8_lossy(l).into_owned()
                    }
                    Frame::TooLong => "<too long>".into(),
                });
            }
        }
        if let Some(fr) = f.take_rest() {
            out.push(match fr {
                Frame::Line(l, ascii) => {
                    assert!(!ascii || l.is_ascii());
                    format!("<rest {}>", String::from_utf8_lossy(l))
                }
                Frame::TooLong => "<rest too long>".into(),
            });
        }
        assert_eq!(f.consumed(), input.len() as u64);
        out
    }

    #[test]
    fn splits_lines_across_reads() {
        for rs in [1, 3, 7, 4096] {
            assert_eq!(
                frames(b"a\nbb\r\n\nccc", 1000, rs),
                ["a", "bb", "", "<rest ccc>"]
            );
        }
    }

    #[test]
    fn lines_after_a_non_ascii_one_are_marked_ascii_again() {
        let mut input = Vec::new();
        for i in 0..2000 {
            if i % 500 == 7 {
                input.extend("caf\u{e9} au lait\n".as_bytes());
            } else {
                input.extend(format!("GET /line/{i}\n").as_bytes());
            }
        }
        for rs in [1, 100, 4096, 1 << 20] {
            let mut r = &input[..];
            let mut f = Framer::new(1000);
            let (mut marked, mut lines) = (0, 0);
            while f.fill(&mut r).unwrap() > 0 {
                while let Some(Frame::Line(l, ascii)) = f.next_frame() {
                    assert!(!ascii || l.is_ascii(), "{rs}");
                    marked += usize::from(ascii);
                    lines += 1;
                }
            }
            assert_eq!(lines, 2000);
            // only lines near a non-ASCII one go unmarked
            assert!(marked > 1800, "{rs}: {marked}");
        }
    }

    #[test]
    fn long_lines_are_skipped_whole() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 600_000));
        input.extend(b"\nafter\n");
        assert_eq!(frames(&input, 1000, 8192), ["ok", "<too long>", "after"]);
        assert_eq!(frames(b"12345678\nab\n", 4, 3), ["<too long>", "ab"]);
    }
}
