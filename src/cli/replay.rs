//! `breachd replay`: the daemon's path over finite inputs, on event time.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::classify::Inventory;
use crate::detect::alert::Alert;
use crate::detect::sigma::SigmaSet;
use crate::detect::{rules, DetectStats, Engine};
use crate::incident::{alert_key, Correlation, IncidentStore, ListFilter};
use crate::parse::{Event, Format, LocalTime};
use crate::pipeline::{Decoder, EventSink, Stats};
use crate::source::input::Input;
use crate::source::merge::{merge, total_stats, Lane};

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
    /// Stop after classifying events with the inventory.
    Classify,
    /// The whole detection path (the default).
    Detect,
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
    /// Data inventory (YAML): which resources hold which personal data
    /// (overrides the config's `[detect] inventory`).
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Sigma rule files or directories, added to the shipped signatures and
    /// the config's `[detect] sigma` (repeatable).
    #[arg(long)]
    sigma: Vec<PathBuf>,
    /// Detection rules (YAML); the config's, else the shipped defaults.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Log format of the inputs (`auto` sniffs each input).
    #[arg(long, default_value = "auto")]
    format: String,
    /// Zone for timestamps that carry none (syslog): IANA name, UTC or local.
    /// Defaults to the inventory's `timezone`, else the system zone.
    #[arg(long)]
    timezone: Option<String>,
    #[arg(long, value_enum, default_value = "jsonl")]
    output: Output,
    /// Stop the path after this stage.
    #[arg(long, value_enum)]
    until: Option<Stage>,
    /// Summary on stderr as text (default) or one JSON object.
    #[arg(long, value_enum, default_value = "text")]
    summary: Summary,
    /// Keep the incidents in this store file (created if needed; the same
    /// file the daemon and `breachd incident` use). Without it, incidents
    /// are correlated in memory: alert lines still carry their incident ids.
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// Log files; gzip is read transparently; `-` is standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// The stages after parsing, as one sink: optional event output, classify,
/// detect, alert output.
struct Path<'i> {
    until: Stage,
    inventory: &'i Inventory,
    engine: Engine,
    events_out: Option<Box<dyn Write + 'i>>,
    alerts_out: Option<Box<dyn Write + 'i>>,
    table: Option<Vec<Alert>>,
    /// Where alerts become incidents.
    store: Box<dyn IncidentStore>,
    policy: Correlation,
    /// Closed alerts, printed at the end.
    done: Vec<Alert>,
}

impl Path<'_> {
    /// Records closed alerts in the store. Their lines wait for the end of
    /// the replay: a later alert can still merge their incidents (a campaign
    /// alert naming addresses that each had their own), and a line must carry
    /// the incident its alert ends up in.
    fn emit(&mut self, alerts: Vec<Alert>) -> io::Result<()> {
        if alerts.is_empty() {
            return Ok(());
        }
        let batch: Vec<(Alert, bool)> = alerts.into_iter().map(|a| (a, true)).collect();
        self.store
            .record_batch(&batch, &self.policy)
            .map_err(io::Error::other)?;
        self.done.extend(batch.into_iter().map(|(a, _)| a));
        Ok(())
    }

    /// Prints every alert with its incident as it stands at the end.
    fn print(&mut self) -> io::Result<()> {
        let mut alerts = std::mem::take(&mut self.done);
        for a in &mut alerts {
            let id = self
                .store
                .incident_of(&alert_key(a))
                .map_err(io::Error::other)?;
            a.incident = id.map(|i| i.to_string());
        }
        if let Some(t) = &mut self.table {
            t.extend(alerts);
        } else if let Some(out) = &mut self.alerts_out {
            for a in alerts {
                serde_json::to_writer(&mut *out, &a)?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }
}

impl EventSink for Path<'_> {
    #[inline]
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        if let Some(out) = &mut self.events_out {
            serde_json::to_writer(&mut *out, ev)?;
            out.write_all(b"\n")?;
        }
        if self.until == Stage::Parse {
            return Ok(());
        }
        let class = self.inventory.classify(ev);
        if self.until == Stage::Classify {
            std::hint::black_box(&class);
            return Ok(());
        }
        self.engine.observe(ev, &class);
        if self.engine.has_closed() {
            let closed = self.engine.take_closed();
            self.emit(closed)?;
        }
        Ok(())
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
    let inventory = match &args.inventory {
        Some(p) => {
            Inventory::load(p).map_err(|e| anyhow::anyhow!("the inventory has problems:\n{e}"))?
        }
        None => (*config.inventory).clone(),
    };
    let tz = match (&args.timezone, &inventory.timezone) {
        (Some(name), _) => crate::config::parse_timezone(name).map_err(anyhow::Error::msg)?,
        (None, Some(tz)) => tz.clone(),
        (None, None) => jiff::tz::TimeZone::system(),
    };
    let rules = match &args.rules {
        Some(p) => rules::load(p).map_err(|e| {
            let lines: Vec<String> = e.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("the rules have problems:\n{}", lines.join("\n"))
        })?,
        None => config.rules.clone(),
    };
    let sigma = if args.sigma.is_empty() {
        config.sigma.clone()
    } else {
        let mut paths: Vec<PathBuf> = Vec::new();
        paths.extend(args.sigma.iter().cloned());
        std::sync::Arc::new(crate::detect::sigma::load_all(rules::SHIPPED_SIGMA, &paths))
    };
    let inputs = Input::open_all(&args.files)?;

    let progress = Progress::start(inputs.iter().map(|i| i.size).sum::<Option<u64>>());
    let started = Instant::now();
    let until = args.until.unwrap_or(Stage::Detect);
    let stdout = io::stdout();
    let out = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    type Out<'o> = Option<Box<dyn Write + 'o>>;
    let (events_out, alerts_out): (Out, Out) = match args.output {
        Output::Events => (Some(Box::new(out)), None),
        Output::Jsonl | Output::Table => (None, Some(Box::new(out))),
    };
    let mut path = Path {
        until,
        inventory: &inventory,
        engine: Engine::new(rules, config.max_keys)
            .with_sigma(sigma.clone())
            .with_subjects_total(inventory.subjects_total),
        events_out,
        alerts_out,
        table: (args.output == Output::Table).then(Vec::new),
        store: match &args.store {
            Some(p) => crate::store::open(p)?,
            None => crate::store::in_memory(),
        },
        policy: Correlation {
            jurisdictions: inventory.jurisdictions.clone(),
            ..config.correlation.clone()
        },
        done: Vec::new(),
    };
    let mut lanes: Vec<Lane> = inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| {
            let reference = input
                .modified
                .and_then(|m| jiff::Timestamp::try_from(m).ok())
                .unwrap_or_else(jiff::Timestamp::now);
            let local = LocalTime::new(tz.clone(), reference);
            let decoder = Decoder::for_format(&format, &local, i as u32, input.name.clone());
            Lane::new(input.name, input.reader, config.max_line_bytes, decoder)
        })
        .collect();
    let merged = merge(&mut lanes, &mut path, &mut |n| progress.advance(n));
    let finished = merged.and_then(|()| {
        let rest = path.engine.finish();
        path.emit(rest)?;
        path.print()?;
        if let Some(t) = path.table.take() {
            if let Some(out) = &mut path.alerts_out {
                print_table(out, &t)?;
            }
        }
        for out in [&mut path.events_out, &mut path.alerts_out]
            .into_iter()
            .flatten()
        {
            out.flush()?;
        }
        Ok(())
    });
    match finished {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("replay")?,
    }
    progress.stop();
    let elapsed = started.elapsed();
    let formats: Vec<(String, &str)> = lanes
        .iter()
        .map(|l| (l.name.clone(), l.decoder.format_name()))
        .collect();
    // Incidents this store holds that are not merged away (with --store,
    // earlier replays' too).
    let incidents = path
        .store
        .list(&ListFilter {
            all: true,
            ..Default::default()
        })?
        .iter()
        .filter(|i| i.merged_into.is_none())
        .count();
    print_summary(
        args.summary,
        &total_stats(&lanes),
        incidents,
        &path.engine.stats,
        &path.engine.keys_by_rule(),
        &sigma,
        &formats,
        elapsed,
    );
    // The process ends here. Freeing every key's state one allocation at a
    // time would cost a large replay several percent of its run; the pages
    // go back to the system at exit regardless. (The store is dropped and
    // closed as usual.)
    std::mem::forget(std::mem::replace(
        &mut path.engine,
        Engine::new(Vec::new(), 0),
    ));
    Ok(ExitCode::SUCCESS)
}

/// Alerts for people.
fn print_table(out: &mut dyn Write, alerts: &[Alert]) -> io::Result<()> {
    writeln!(
        out,
        "{:<25} {:<10} {:<20} {:<9} {:>8} {:>8}  entities",
        "detected_at", "incident", "detector", "severity", "events", "subjects"
    )?;
    for a in alerts {
        let ents: Vec<String> = a.entities.iter().map(|e| e.value.clone()).collect();
        writeln!(
            out,
            "{:<25} {:<10} {:<20} {:<9} {:>8} {:>8}  {}",
            a.detected_at.to_string(),
            a.incident.as_deref().unwrap_or("-"),
            a.detector,
            a.severity.as_str(),
            a.events,
            a.subjects,
            ents.join(", ")
        )?;
    }
    writeln!(
        out,
        "{} alert{}",
        alerts.len(),
        if alerts.len() == 1 { "" } else { "s" }
    )
}

#[allow(clippy::too_many_arguments)]
fn print_summary(
    kind: Summary,
    s: &Stats,
    incidents: usize,
    d: &DetectStats,
    keys: &[(&str, usize)],
    sigma: &SigmaSet,
    formats: &[(String, &str)],
    elapsed: Duration,
) {
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
                "huge_pages": super::heap::huge_pages(),
                "peak_state_keys": d.peak_keys,
                "alerts": d.alerts,
                "incidents": incidents,
                "state_cap_hits": d.cap_hits,
                "keys_by_rule": keys.iter().copied().collect::<std::collections::BTreeMap<_, _>>(),
                "sigma_rules_loaded": sigma.len(),
                "sigma_rules_seen": sigma.seen(),
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
                "  alerts {} in {} incident{}, peak RSS {:.1} MB, peak detector state {} keys{}",
                d.alerts,
                incidents,
                if incidents == 1 { "" } else { "s" },
                rss as f64 / 1e6,
                d.peak_keys,
                if d.cap_hits > 0 {
                    format!(" ({} keys refused at the cap)", d.cap_hits)
                } else {
                    String::new()
                }
            );
            let _ = writeln!(
                err,
                "  sigma: {} of {} rule files loaded",
                sigma.len(),
                sigma.seen()
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
