//! The daemon's counters, shared with the API thread through an `Arc`, and
//! their Prometheus text rendering for `/metrics`.
//!
//! The daemon's loop writes them (relaxed atomics: each value is read on its
//! own, no two need to agree); the API only reads. Labelled sets that change
//! with a reload (per-rule key counts) sit behind a mutex the loop takes at
//! most once a second. No personal data: counts, source and rule names only.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::detect::alert::Severity;

/// One source's counters.
#[derive(Debug, Default)]
pub struct SourceMetrics {
    pub name: String,
    pub lines: AtomicU64,
    pub events: AtomicU64,
    pub ignored: AtomicU64,
    pub malformed: AtomicU64,
    /// Bytes written to its files and not read yet.
    pub lag_bytes: AtomicU64,
}

/// Everything `/metrics` shows that only the daemon knows.
#[derive(Debug, Default)]
pub struct Metrics {
    pub sources: Vec<SourceMetrics>,
    /// Keys held per rule (detector state size).
    pub detector_keys: Mutex<Vec<(String, u64)>>,
    /// Keys refused because a rule was at its cap.
    pub detector_cap_hits: AtomicU64,
    /// Alerts opened, by severity (low, medium, high, critical).
    pub alerts_opened: [AtomicU64; 4],
    /// Seconds the last scheduler firing came after its due time.
    pub scheduler_late_secs: AtomicI64,
    pub scheduler_firings: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    /// Unix seconds of the last saved checkpoint.
    pub last_checkpoint: AtomicI64,
    /// Unix seconds the daemon started.
    pub started: AtomicI64,
}

const SEVERITIES: [Severity; 4] = [
    Severity::Low,
    Severity::Medium,
    Severity::High,
    Severity::Critical,
];

fn severity_index(s: Severity) -> usize {
    SEVERITIES.iter().position(|x| *x == s).unwrap_or(0)
}

impl Metrics {
    /// Counters for these sources (by name, in config order).
    pub fn new(sources: &[&str]) -> Metrics {
        Metrics {
            sources: sources
                .iter()
                .map(|n| SourceMetrics {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            started: AtomicI64::new(jiff::Timestamp::now().as_second()),
            ..Default::default()
        }
    }

    pub fn alert_opened(&self, s: Severity) {
        self.alerts_opened[severity_index(s)].fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition (version 0.0.4). `incidents` are the
    /// active incidents' (severity, status) counts read from the store at
    /// scrape time; `outbox` the pending and dead-lettered notifications, when
    /// known.
    pub fn render(
        &self,
        incidents: &[(String, String, u64)],
        outbox: Option<(u64, u64)>,
    ) -> String {
        let mut out = String::with_capacity(4096);
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            name.to_string()
        };
        let mut lines = Vec::new();
        let f = family(
            "breachd_source_lines_total",
            "counter",
            "Lines read per source.",
        );
        for s in &self.sources {
            lines.push(sample(&f, &[("source", &s.name)], s.lines.load(Relaxed)));
        }
        let f = family(
            "breachd_source_events_total",
            "counter",
            "Lines parsed into events per source.",
        );
        for s in &self.sources {
            lines.push(sample(&f, &[("source", &s.name)], s.events.load(Relaxed)));
        }
        let f = family(
            "breachd_source_ignored_total",
            "counter",
            "Lines recognised and deliberately skipped per source.",
        );
        for s in &self.sources {
            lines.push(sample(&f, &[("source", &s.name)], s.ignored.load(Relaxed)));
        }
        let f = family(
            "breachd_source_malformed_total",
            "counter",
            "Malformed lines counted and skipped per source.",
        );
        for s in &self.sources {
            lines.push(sample(
                &f,
                &[("source", &s.name)],
                s.malformed.load(Relaxed),
            ));
        }
        let f = family(
            "breachd_source_lag_bytes",
            "gauge",
            "Bytes written to a source's files and not read yet (tail lag).",
        );
        for s in &self.sources {
            lines.push(sample(
                &f,
                &[("source", &s.name)],
                s.lag_bytes.load(Relaxed),
            ));
        }
        let f = family(
            "breachd_detector_keys",
            "gauge",
            "Keys held per rule (detector state size).",
        );
        if let Ok(keys) = self.detector_keys.lock() {
            for (rule, n) in keys.iter() {
                lines.push(sample(&f, &[("rule", rule)], *n));
            }
        }
        let f = family(
            "breachd_detector_cap_hits_total",
            "counter",
            "Keys refused because a rule's state was at its cap.",
        );
        lines.push(sample(&f, &[], self.detector_cap_hits.load(Relaxed)));
        let f = family(
            "breachd_alerts_opened_total",
            "counter",
            "Alerts opened by severity.",
        );
        for (i, s) in SEVERITIES.iter().enumerate() {
            lines.push(sample(
                &f,
                &[("severity", s.as_str())],
                self.alerts_opened[i].load(Relaxed),
            ));
        }
        let f = family(
            "breachd_incidents",
            "gauge",
            "Active incidents by severity and status.",
        );
        for (sev, status, n) in incidents {
            lines.push(sample(&f, &[("severity", sev), ("status", status)], *n));
        }
        let f = family(
            "breachd_scheduler_lateness_seconds",
            "gauge",
            "How late the scheduler's last firing came after its due time.",
        );
        lines.push(sample_i(&f, self.scheduler_late_secs.load(Relaxed)));
        let f = family(
            "breachd_scheduler_firings_total",
            "counter",
            "Playbook steps fired since start.",
        );
        lines.push(sample(&f, &[], self.scheduler_firings.load(Relaxed)));
        if let Some((depth, dead)) = outbox {
            let f = family(
                "breachd_outbox_depth",
                "gauge",
                "Notifications waiting to be sent.",
            );
            lines.push(sample(&f, &[], depth));
            let f = family(
                "breachd_outbox_dead_letters",
                "gauge",
                "Notifications that failed for good.",
            );
            lines.push(sample(&f, &[], dead));
        }
        let f = family(
            "breachd_reloads_total",
            "counter",
            "Configuration reloads (SIGHUP or the API) by result.",
        );
        lines.push(sample(
            &f,
            &[("result", "ok")],
            self.reloads_ok.load(Relaxed),
        ));
        lines.push(sample(
            &f,
            &[("result", "failed")],
            self.reloads_failed.load(Relaxed),
        ));
        let f = family(
            "breachd_last_checkpoint_timestamp_seconds",
            "gauge",
            "When file positions were last saved.",
        );
        lines.push(sample_i(&f, self.last_checkpoint.load(Relaxed)));
        let f = family(
            "breachd_start_timestamp_seconds",
            "gauge",
            "When the daemon started.",
        );
        lines.push(sample_i(&f, self.started.load(Relaxed)));
        // HELP/TYPE headers were written in order; samples follow their
        // family, so rebuild the text family by family.
        regroup(&out, &lines)
    }
}

fn sample(name: &str, labels: &[(&str, &str)], v: u64) -> String {
    let mut s = name.to_string();
    if !labels.is_empty() {
        s.push('{');
        for (i, (k, val)) in labels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{k}=\"{}\"", escape_label(val));
        }
        s.push('}');
    }
    let _ = write!(s, " {v}");
    s
}

fn sample_i(name: &str, v: i64) -> String {
    format!("{name} {v}")
}

/// Label values escape `\`, `"` and newlines (the exposition format).
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Puts each sample under its family's HELP/TYPE header.
fn regroup(headers: &str, samples: &[String]) -> String {
    let mut out = String::with_capacity(headers.len() + samples.len() * 48);
    for line in headers.lines() {
        out.push_str(line);
        out.push('\n');
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|l| l.split(' ').next())
        {
            for s in samples {
                let metric = s.split(['{', ' ']).next().unwrap_or_default();
                if metric == name {
                    out.push_str(s);
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_samples() {
        let m = Metrics::new(&["nginx", "a\"b"]);
        m.sources[0].lines.store(7, Relaxed);
        m.sources[0].malformed.store(2, Relaxed);
        m.alert_opened(Severity::High);
        *m.detector_keys.lock().unwrap() = vec![("bulk".into(), 3)];
        let text = m.render(&[("high".into(), "open".into(), 1)], Some((4, 1)));
        for wanted in [
            "# TYPE breachd_source_lines_total counter\nbreachd_source_lines_total{source=\"nginx\"} 7\n",
            "breachd_source_malformed_total{source=\"nginx\"} 2\n",
            "breachd_source_lines_total{source=\"a\\\"b\"} 0\n",
            "breachd_alerts_opened_total{severity=\"high\"} 1\n",
            "breachd_detector_keys{rule=\"bulk\"} 3\n",
            "breachd_incidents{severity=\"high\",status=\"open\"} 1\n",
            "breachd_outbox_depth 4\n",
            "breachd_outbox_dead_letters 1\n",
        ] {
            assert!(text.contains(wanted), "missing {wanted:?} in\n{text}");
        }
        // every sample line belongs to the family above it
        let mut current = String::new();
        for l in text.lines() {
            if let Some(n) = l.strip_prefix("# TYPE ") {
                current = n.split(' ').next().unwrap().to_string();
            } else if !l.starts_with('#') {
                assert!(l.starts_with(&current), "{l} outside {current}");
            }
        }
    }
}
