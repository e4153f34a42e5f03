//! `breachd replay`: the daemon's path over finite inputs, on event time.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::parse::{Event, Format, LocalTime};
use crate::pipeline::{Decoder, Discard, EventSink, Stats};
use crate::source::framer::Framer;
use crate::source::input::Input;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One alert line (JSON) per alert.
    Jsonl,
    /// Alerts as a table for people.
    Table,
    /// The normalized events as JSON lines.
    Events,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    /// Stop after parsing: every line is framed, checked and parsed.
    Parse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Summary {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Config file (limits and time zone); the embedded default otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log format of the inputs (`auto` sniffs each input).
    #[arg(long, default_value = "auto")]
    format: String,
    /// Zone for timestamps that carry none (syslog): IANA name, UTC or local.
    #[arg(long, default_value = "local")]
    timezone: String,
    #[arg(long, value_enum, default_value = "jsonl")]
    output: Output,
    /// Stop the path after this stage.
    #[arg(long, value_enum)]
    until: Option<Stage>,
    /// Summary on stderr as text (default) or one JSON object.
    #[arg(long, value_enum, default_value = "text")]
    summary: Summary,
    /// Log files; gzip is read transparently; `-` is standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Writes events as JSON lines.
struct EventLines<W: Write> {
    out: W,
}

impl<W: Write> EventSink for EventLines<W> {
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, ev)?;
        self.out.write_all(b"\n")
    }
}

pub fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(args.config.as_deref())?;
    let format = Format::from_name(&args.format).with_context(|| {
        format!(
            "unknown --format `{}`; use one of: {}",
            args.format,
            Format::NAMES.join(", ")
        )
    })?;
    let tz = crate::config::parse_timezone(&args.timezone).map_err(anyhow::Error::msg)?;
    let inputs = Input::open_all(&args.files)?;

    let progress = Progress::start(inputs.iter().map(|i| i.size).sum::<Option<u64>>());
    let started = Instant::now();
    let stdout = io::stdout();
    let mut events_out = EventLines {
        out: io::BufWriter::with_capacity(256 * 1024, stdout.lock()),
    };
    // Alerts come from detection; until it is built, `jsonl` and `table` print nothing.
    let sink: &mut dyn EventSink = match (args.output, args.until) {
        (Output::Events, _) => &mut events_out,
        _ => &mut Discard,
    };
    let mut total = Stats::default();
    let mut formats = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let reference = input
            .modified
            .and_then(|m| jiff::Timestamp::try_from(m).ok())
            .unwrap_or_else(jiff::Timestamp::now);
        let local = LocalTime::new(tz.clone(), reference);
        let mut decoder = Decoder::for_format(&format, &local, i as u32, input.name.clone());
        let mut reader = input.reader;
        let mut framer = Framer::new(config.max_line_bytes);
        let mut broken_pipe = false;
        loop {
            let n = framer
                .fill(&mut *reader)
                .with_context(|| format!("reading {}", input.name))?;
            progress.advance(n as u64);
            while let Some(frame) = framer.next_frame() {
                if let Err(e) = decoder.frame(frame, sink) {
                    broken_pipe = e.kind() == io::ErrorKind::BrokenPipe;
                    if !broken_pipe {
                        return Err(e).context("writing events");
                    }
                    break;
                }
            }
            if n == 0 || broken_pipe {
                break;
            }
        }
        // A finished input's last line needs no newline.
        if let Some(frame) = framer.take_rest().filter(|_| !broken_pipe) {
            let _ = decoder.frame(frame, sink);
        }
        formats.push((input.name, decoder.format_name()));
        total.add(&decoder.stats);
        if broken_pipe {
            break;
        }
    }
    match events_out.out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e).context("writing events"),
        _ => {}
    }
    progress.stop();
    let elapsed = started.elapsed();
    print_summary(args.summary, &total, &formats, elapsed);
    Ok(ExitCode::SUCCESS)
}

fn print_summary(kind: Summary, s: &Stats, formats: &[(String, &str)], elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rss = super::peak_rss_bytes().unwrap_or(0);
    let mut err = io::stderr().lock();
    match kind {
        Summary::Json => {
            let v = serde_json::json!({
                "inputs": formats.iter().map(|(n, f)| serde_json::json!({"name": n, "format": f})).collect::<Vec<_>>(),
                "lines": s.lines,
                "bytes": s.bytes,
                "events": s.events,
                "ignored": s.ignored_by_reason().collect::<std::collections::BTreeMap<_, _>>(),
                "malformed": s.malformed_by_reason().collect::<std::collections::BTreeMap<_, _>>(),
                "malformed_total": s.malformed_total(),
                "out_of_order": s.out_of_order,
                "seconds": secs,
                "lines_per_sec": s.lines as f64 / secs,
                "peak_rss_bytes": rss,
                "peak_state_keys": 0,
            });
            let _ = writeln!(err, "{v}");
        }
        Summary::Text => {
            let list = |it: &mut dyn Iterator<Item = (&'static str, u64)>| {
                let v: Vec<String> = it.map(|(k, n)| format!("{k} {n}")).collect();
                if v.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", v.join(", "))
                }
            };
            let _ = writeln!(
                err,
                "replay: {} input{} ({}), {} lines, {:.1} MB in {:.2}s: {:.0} lines/s",
                formats.len(),
                if formats.len() == 1 { "" } else { "s" },
                formats
                    .iter()
                    .map(|(n, f)| format!("{n}: {f}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                s.lines,
                s.bytes as f64 / 1e6,
                secs,
                s.lines as f64 / secs
            );
            let _ = writeln!(
                err,
                "  events {}, ignored {}{}, malformed {}{}, out of order {}",
                s.events,
                s.ignored_total(),
                list(&mut s.ignored_by_reason()),
                s.malformed_total(),
                list(&mut s.malformed_by_reason()),
                s.out_of_order
            );
            let _ = writeln!(
                err,
                "  peak RSS {:.1} MB, peak detector state 0 keys",
                rss as f64 / 1e6
            );
        }
    }
}

/// A progress line on stderr while replay runs, only when stderr is a terminal.
struct Progress {
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(total: Option<u64>) -> Progress {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = io::stderr().is_terminal().then(|| {
            let (done, stop) = (done.clone(), stop.clone());
            std::thread::spawn(move || {
                let t0 = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    let d = done.load(Ordering::Relaxed);
                    let rate = d as f64 / t0.elapsed().as_secs_f64().max(1e-3);
                    let line = match total {
                        Some(t) if t > 0 => format!(
                            "\r{:>5.1}% {:.1}/{:.1} MB  {:.1} MB/s  {:.0}s left   ",
                            100.0 * d as f64 / t as f64,
                            d as f64 / 1e6,
                            t as f64 / 1e6,
                            rate / 1e6,
                            (t.saturating_sub(d)) as f64 / rate.max(1.0)
                        ),
                        _ => format!("\r{:.1} MB  {:.1} MB/s   ", d as f64 / 1e6, rate / 1e6),
                    };
                    let _ = io::stderr().write_all(line.as_bytes());
                }
                let _ = io::stderr().write_all(b"\r\x1b[2K");
            })
        });
        Progress { done, stop, thread }
    }

    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
