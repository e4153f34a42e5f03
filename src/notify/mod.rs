//! Notifications: notice templates, their required contents, and the
//! channels that deliver them.
//!
//! Owns: the notice's data ([`Notice`], formatted per locale as a
//! [`notice::View`]); the handlebars templates in `templates/LOCALE/`
//! ([`Templates`], strict mode); the checklist of what each regime requires a
//! notice to state ([`checklist`]), which `breachd check` runs against a
//! built-in sample incident; a rendered [`Notification`]; and the channels
//! ([`Channel`]: SMTP, webhook, Slack, PagerDuty Events v2, file) with their
//! `[notify]` config.
//!
//! A send is one blocking call, [`Channel::send`], carrying the
//! notification's idempotency key, and fails with a [`SendError`] that says
//! whether a retry can help. Every send goes through the [`outbox`]: a row
//! in the store first (unique key, state, attempts, backoff, dead letters),
//! then a claim with a lease and the send ([`courier`], on a thread of its
//! own in the daemon). Notices to regulators and data subjects are
//! [`draft`]s until a person with the legal role approves them; the store's
//! enqueue refuses them otherwise.
//!
//! Delivery guarantee, per channel: at least once, deduplicated by the
//! idempotency key — SMTP carries it as the Message-ID, the webhook as the
//! `Idempotency-Key` header, PagerDuty as `dedup_key` (= the incident), the
//! file channel as the file name; Slack carries none, so a repeat shows
//! twice. A duplicate still reaches a receiver when breachd stops after the
//! receiver accepted a message and before the outbox row is marked `sent`,
//! or when a send outlives its lease; the resend carries the same key.
//!
//! Never: read the store, decide whether a notice is legally required (that
//! is `playbook`), or let an incident's text become markup or template syntax
//! (values are inserted verbatim into text; HTML is made by escaping it all).

pub mod channel;
pub mod checklist;
pub mod config;
pub mod courier;
pub mod draft;
mod file;
pub mod http;
pub mod notice;
pub mod outbox;
mod smtp;
pub mod template;

pub use channel::{Channel, Receipt, SendError};
pub use notice::{Contact, Locale, Notice, Status};
pub use template::{RenderError, Rendered, Templates};

use crate::playbook::severity::Band;

/// One message ready for a channel: rendered text plus what channels need to
/// address and classify it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The idempotency key: the same key is the same notification, so a
    /// retried send must not be delivered twice (webhook header, Message-ID,
    /// file name).
    pub key: String,
    pub incident_id: String,
    pub template: String,
    pub locale: Locale,
    pub status: Status,
    pub band: Band,
    /// The rendered first line.
    pub subject: String,
    /// The rendered body, plain text.
    pub body: String,
    /// Slack mrkdwn text, when the notification is an on-call alert.
    pub slack: Option<String>,
    /// One line for pagers.
    pub summary: String,
    /// Recipients for this notification; empty means the channel's own.
    pub to: Vec<String>,
    /// Structured facts for machine receivers (webhook, PagerDuty).
    pub details: serde_json::Value,
}

impl Notification {
    /// Renders the notice template `name` for `notice`.
    pub fn notice(
        templates: &Templates,
        name: &str,
        notice: &Notice,
        key: &str,
    ) -> Result<Notification, RenderError> {
        let r = templates.render(name, notice)?;
        Ok(Notification {
            key: key.to_string(),
            incident_id: notice.incident_id.clone(),
            template: name.to_string(),
            locale: notice.locale,
            status: notice.status,
            band: notice.severity.band,
            summary: r.subject.clone(),
            subject: r.subject,
            body: r.body,
            slack: None,
            to: Vec::new(),
            details: details(notice),
        })
    }

    /// Renders the on-call alert (text, Slack and pager forms) for `notice`.
    pub fn alert(
        templates: &Templates,
        notice: &Notice,
        key: &str,
    ) -> Result<Notification, RenderError> {
        let mut n = Notification::notice(templates, template::ALERT, notice, key)?;
        let slack = templates.render(template::ALERT_SLACK, notice)?;
        n.slack = Some(
            format!("{}\n{}", slack.subject, slack.body)
                .trim_end()
                .to_string(),
        );
        n.summary = templates.render(template::ALERT_PAGERDUTY, notice)?.subject;
        Ok(n)
    }
}

/// The incident's facts as JSON, for receivers that read fields.
fn details(n: &Notice) -> serde_json::Value {
    let s = &n.severity;
    serde_json::json!({
        "incident_id": n.incident_id,
        "title": n.title,
        "status": n.status.as_str(),
        "severity": {"band": s.band.as_str(), "score": s.score, "dpc": s.dpc, "ei": s.ei, "cb": s.cb},
        "detected_at": n.detected_at.to_string(),
        "aware_at": n.aware_at.to_string(),
        "breach_start": n.breach_start.map(|t| t.to_string()),
        "breach_end": n.breach_end.map(|t| t.to_string()),
        "categories": n.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "subjects": n.subjects,
        "records": n.records,
        "jurisdictions": n.jurisdictions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_carries_text_slack_and_summary() {
        let t = Templates::shipped().unwrap();
        let n = Notification::alert(&t, &Notice::sample(Locale::En), "INC-0042/alert/1").unwrap();
        assert_eq!(
            n.subject,
            "[breachd] high severity: Customer records read through a stolen API key (INC-0042)"
        );
        assert!(n
            .slack
            .as_deref()
            .unwrap()
            .starts_with("*INC-0042: Customer records"));
        assert_eq!(
            n.summary,
            "INC-0042 high: Customer records read through a stolen API key (~1240 subjects; names and identifiers, contact details, health information, government identification numbers)"
        );
        assert_eq!(n.details["severity"]["band"], "high");
        assert_eq!(n.details["categories"][3], "government_id");
    }
}
