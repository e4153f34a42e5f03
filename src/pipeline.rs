//! The line stage between source and the later stages: checks each framed
//! line for bad input, parses it, counts everything, and hands events on.
//!
//! Owns [`Stats`] and [`Decoder`]. Never panics and never stops on bad input:
//! a bad line is counted by reason, a few are sampled into breachd's own log,
//! and the next line is read.

use std::time::{Duration, Instant};

use crate::parse::{Event, EventTime, IgnoreReason, LocalTime, Malformed, Parsed, Parser};
use crate::source::framer::Frame;

/// Counts of what happened to the lines of one input (or the sum of many).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub lines: u64,
    pub bytes: u64,
    pub events: u64,
    pub ignored: [u64; IgnoreReason::ALL.len()],
    pub malformed: [u64; Malformed::ALL.len()],
    /// Events whose time is before an earlier line's (kept and passed on).
    pub out_of_order: u64,
}

impl Stats {
    pub fn malformed_total(&self) -> u64 {
        self.malformed.iter().sum()
    }

    pub fn ignored_total(&self) -> u64 {
        self.ignored.iter().sum()
    }

    pub fn add(&mut self, o: &Stats) {
        self.lines += o.lines;
        self.bytes += o.bytes;
        self.events += o.events;
        for (a, b) in self.ignored.iter_mut().zip(o.ignored) {
            *a += b;
        }
        for (a, b) in self.malformed.iter_mut().zip(o.malformed) {
            *a += b;
        }
        self.out_of_order += o.out_of_order;
    }

    /// Malformed counts by reason, non-zero only.
    pub fn malformed_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Malformed::ALL
            .iter()
            .map(|m| (m.as_str(), self.malformed[m.index()]))
            .filter(|(_, n)| *n > 0)
    }

    /// Ignored counts by reason, non-zero only.
    pub fn ignored_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        IgnoreReason::ALL
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_str(), self.ignored[i]))
            .filter(|(_, n)| *n > 0)
    }
}

/// Where parsed events go next.
pub trait EventSink {
    /// Takes one event; an error stops the input (the sink cannot go on).
    fn event(&mut self, ev: &Event<'_>) -> std::io::Result<()>;

    /// Makes everything taken so far durable enough to checkpoint past it.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Samples bad lines into breachd's log: the first few of each reason, then
/// at most one per reason a minute.
#[derive(Debug)]
struct Sampler {
    logged: [u32; Malformed::ALL.len()],
    last: [Option<Instant>; Malformed::ALL.len()],
}

const SAMPLES_FREE: u32 = 3;
const SAMPLE_EVERY: Duration = Duration::from_secs(60);

impl Sampler {
    fn new() -> Sampler {
        Sampler {
            logged: [0; Malformed::ALL.len()],
            last: [None; Malformed::ALL.len()],
        }
    }

    #[cold]
    fn sample(&mut self, source: &str, line_no: u64, why: Malformed, raw: &[u8]) {
        let i = why.index();
        let now = Instant::now();
        let due = self.logged[i] < SAMPLES_FREE
            || self.last[i].is_none_or(|t| now.duration_since(t) >= SAMPLE_EVERY);
        if !due {
            return;
        }
        self.logged[i] += 1;
        self.last[i] = Some(now);
        let shown = String::from_utf8_lossy(&raw[..raw.len().min(160)]);
        tracing::warn!(source, line = line_no, reason = why.as_str(), sample = %shown.escape_debug(), "skipped a malformed line");
    }
}

/// NUL or other C0 control bytes (but tab and escape) that no text log writes.
/// Checked only for lines that already failed, off the hot path.
fn is_binary(raw: &[u8]) -> bool {
    raw.iter().any(|&c| c < 0x20 && c != b'\t' && c != 0x1b)
}

/// Whether every byte is ASCII, as nearly every log line is. OR-ing whole
/// 32-byte blocks lets the compiler use vector instructions, which neither
/// `<[u8]>::is_ascii` nor `str::from_utf8` do: on the scale-1 access log (in
/// cache) this took 17 ns a line, `from_utf8` 29 and `is_ascii` 40.
#[inline]
fn is_ascii(b: &[u8]) -> bool {
    let mut blocks = b.chunks_exact(32);
    let mut seen = 0u8;
    for block in &mut blocks {
        for &c in block {
            seen |= c;
        }
    }
    for &c in blocks.remainder() {
        seen |= c;
    }
    seen < 0x80
}

/// Turns the framed lines of one input into events.
#[derive(Debug)]
pub struct Decoder {
    parser: Parser,
    source: u32,
    name: String,
    pub stats: Stats,
    latest: EventTime,
    sampler: Sampler,
}

impl Decoder {
    pub fn new(parser: Parser, source: u32, name: impl Into<String>) -> Decoder {
        Decoder {
            parser,
            source,
            name: name.into(),
            stats: Stats::default(),
            latest: EventTime::default(),
            sampler: Sampler::new(),
        }
    }

    /// Builds a decoder for a format with the given zone for zoneless times.
    pub fn for_format(
        format: &crate::parse::Format,
        local: &LocalTime,
        source: u32,
        name: impl Into<String>,
    ) -> Decoder {
        Decoder::new(Parser::new(format, local), source, name)
    }

    pub fn format_name(&self) -> &'static str {
        self.parser.format_name()
    }

    /// Handles one framed line.
    #[inline]
    pub fn frame<S: EventSink + ?Sized>(
        &mut self,
        frame: Frame<'_>,
        sink: &mut S,
    ) -> std::io::Result<()> {
        match frame {
            Frame::Line(raw, ascii) => self.line(raw, ascii, sink),
            Frame::TooLong => {
                self.stats.lines += 1;
                self.bad(Malformed::TooLong, b"<over max_line_bytes>");
                Ok(())
            }
        }
    }

    /// Counts a line that could not be completed (a file closed mid-line).
    pub fn truncated(&mut self, raw: &[u8]) {
        self.stats.lines += 1;
        self.stats.bytes += raw.len() as u64;
        self.bad(Malformed::Truncated, raw);
    }

    /// Handles one complete line (without terminator); `ascii`: the framer
    /// already found every byte ASCII.
    #[inline]
    pub fn line<S: EventSink + ?Sized>(
        &mut self,
        raw: &[u8],
        ascii: bool,
        sink: &mut S,
    ) -> std::io::Result<()> {
        self.stats.lines += 1;
        self.stats.bytes += raw.len() as u64 + 1;
        let text = if ascii || is_ascii(raw) {
            // SAFETY: every byte is below 0x80 (checked here, or by the
            // framer over the whole read, `Frame::Line`'s flag), and ASCII
            // text is valid UTF-8. Measured: `str::from_utf8` was 9% of parsing and classifying
            // an access log; this check costs about half of it.
            unsafe { std::str::from_utf8_unchecked(raw) }
        } else {
            let Ok(text) = std::str::from_utf8(raw) else {
                let why = if is_binary(raw) {
                    Malformed::Binary
                } else {
                    Malformed::InvalidUtf8
                };
                self.bad(why, raw);
                return Ok(());
            };
            text
        };
        // Matched in place: moving the event out of `Parsed` copied it.
        let mut parsed = self.parser.parse(text);
        match &mut parsed {
            Parsed::Event(ev) => {
                self.stats.events += 1;
                ev.source = self.source;
                if ev.time < self.latest {
                    self.stats.out_of_order += 1;
                } else {
                    self.latest = ev.time;
                }
                sink.event(ev)
            }
            Parsed::Ignored(r) => {
                self.stats.ignored[*r as usize] += 1;
                Ok(())
            }
            Parsed::Malformed(m) => {
                // Control bytes explain the failure better than the parser can.
                let why = if is_binary(raw) {
                    Malformed::Binary
                } else {
                    *m
                };
                self.bad(why, raw);
                Ok(())
            }
        }
    }

    #[inline]
    fn bad(&mut self, why: Malformed, raw: &[u8]) {
        self.stats.malformed[why.index()] += 1;
        self.sampler.sample(&self.name, self.stats.lines, why, raw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_check_agrees_with_the_standard_one_at_every_length_and_place() {
        for len in 0..80 {
            let mut b = vec![b'a'; len];
            assert!(is_ascii(&b));
            for i in 0..len {
                b[i] = 0x80;
                assert!(!is_ascii(&b), "{len} {i}");
                b[i] = b'a';
            }
        }
    }
}
