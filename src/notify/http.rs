//! The HTTP channels (reqwest, rustls): a generic signed JSON webhook, a
//! Slack incoming webhook, and PagerDuty Events API v2.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::channel::SendError;
use super::config::{ChannelSpec, KindSpec, Secret};
use super::{Notification, Status};
use crate::incident::audit::hex;
use crate::playbook::severity::Band;

/// The webhook body's signature: `sha256=` and the hex HMAC-SHA256 of the
/// raw body under the channel's secret.
pub const SIGNATURE_HEADER: &str = "X-Breachd-Signature";
/// The notification's idempotency key; receivers drop a key they have seen.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest::blocking::Client,
    target: Target,
}

#[derive(Debug)]
enum Target {
    Webhook {
        url: String,
        secret: Secret,
    },
    Slack {
        url: Secret,
    },
    PagerDuty {
        url: String,
        routing_key: Secret,
        source: String,
    },
}

impl Http {
    pub(crate) fn open(spec: &ChannelSpec) -> Result<Http, SendError> {
        let target = match &spec.kind {
            KindSpec::Webhook { url, secret } => Target::Webhook {
                url: url.clone(),
                secret: secret.clone(),
            },
            KindSpec::Slack { url } => Target::Slack { url: url.clone() },
            KindSpec::PagerDuty {
                url,
                routing_key,
                source,
            } => Target::PagerDuty {
                url: url.clone(),
                routing_key: routing_key.clone(),
                source: source.clone(),
            },
            _ => return Err(SendError::permanent(&spec.name, "not an HTTP channel")),
        };
        let client = reqwest::blocking::Client::builder()
            .timeout(spec.timeout)
            .user_agent(concat!("breachd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SendError::permanent(&spec.name, format!("HTTP client: {e}")))?;
        Ok(Http { client, target })
    }

    pub(crate) fn send(&self, channel: &str, n: &Notification) -> Result<String, SendError> {
        let request = match &self.target {
            Target::Webhook { url, secret } => {
                let body = serde_json::to_vec(&webhook_body(n))
                    .map_err(|e| SendError::permanent(channel, e.to_string()))?;
                self.client
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header(IDEMPOTENCY_HEADER, &n.key)
                    .header(
                        SIGNATURE_HEADER,
                        signature(secret.expose().as_bytes(), &body),
                    )
                    .body(body)
            }
            Target::Slack { url } => self.client.post(url.expose()).json(&slack_body(n)),
            Target::PagerDuty {
                url,
                routing_key,
                source,
            } => self
                .client
                .post(url)
                .json(&pagerduty_body(routing_key.expose(), source, n)),
        };
        let response = request.send().map_err(|e| {
            // the URL may be a secret (Slack): report the failure without it
            SendError::transient(channel, e.without_url().to_string())
        })?;
        let status = response.status();
        let text = response.text().unwrap_or_default();
        let detail = format!("HTTP {}", status.as_u16());
        if status.is_success() {
            return Ok(detail);
        }
        let text: String = text.chars().take(300).collect();
        let reason = format!("{detail}: {}", text.trim());
        if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
            Err(SendError::transient(channel, reason))
        } else {
            Err(SendError::permanent(channel, reason))
        }
    }
}

/// `sha256=HEX(HMAC-SHA256(secret, body))`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// The generic webhook's JSON: the notification as sent, and the facts.
pub fn webhook_body(n: &Notification) -> serde_json::Value {
    serde_json::json!({
        "idempotency_key": n.key,
        "incident_id": n.incident_id,
        "template": n.template,
        "locale": n.locale.tag(),
        "status": n.status.as_str(),
        "severity": n.band.as_str(),
        "subject": n.subject,
        "body": n.body,
        "details": n.details,
    })
}

/// A Slack message: the subject as a header block and the mrkdwn text as a
/// section, with `text` as the notification fallback. Slack reads `&`, `<`
/// and `>` as markup, so they are escaped.
pub fn slack_body(n: &Notification) -> serde_json::Value {
    let text = n.slack.as_deref().unwrap_or(&n.body);
    serde_json::json!({
        "text": slack_escape(&n.subject),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(&n.subject, 150)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&slack_escape(text), 3000)}},
        ],
    })
}

fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// PagerDuty's event action for an incident's status: an open incident
/// triggers, an acknowledged or contained one is acknowledged, a resolved or
/// false-positive one resolves the alert.
pub fn event_action(status: Status) -> &'static str {
    match status {
        Status::Open => "trigger",
        Status::Acknowledged | Status::Contained => "acknowledge",
        Status::Resolved | Status::FalsePositive => "resolve",
    }
}

/// PagerDuty severity for an ENISA band.
pub fn pagerduty_severity(b: Band) -> &'static str {
    match b {
        Band::VeryHigh => "critical",
        Band::High => "error",
        Band::Medium => "warning",
        Band::Low => "info",
    }
}

/// An Events API v2 event: `dedup_key` is the incident, so every event of
/// one incident lands on one PagerDuty alert; `payload` goes with triggers.
pub fn pagerduty_body(routing_key: &str, source: &str, n: &Notification) -> serde_json::Value {
    let action = event_action(n.status);
    let mut body = serde_json::json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": n.incident_id,
        "client": "breachd",
    });
    if action == "trigger" {
        body["payload"] = serde_json::json!({
            "summary": truncate(&n.summary, 1024),
            "severity": pagerduty_severity(n.band),
            "source": source,
            "component": "breachd",
            "class": "personal_data_breach",
            "custom_details": n.details,
        });
    }
    body
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max_chars - 1).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{Locale, Notice, Templates};

    fn alert(status: Status) -> Notification {
        let mut notice = Notice::sample(Locale::En);
        notice.status = status;
        Notification::alert(&Templates::shipped().unwrap(), &notice, "k1").unwrap()
    }

    #[test]
    fn pagerduty_events_follow_the_incident_status() {
        let t = pagerduty_body("R0UT1NG", "breachd.example", &alert(Status::Open));
        assert_eq!(t["routing_key"], "R0UT1NG");
        assert_eq!(t["event_action"], "trigger");
        assert_eq!(t["dedup_key"], "INC-0042");
        assert_eq!(t["payload"]["severity"], "error");
        assert_eq!(t["payload"]["source"], "breachd.example");
        assert!(t["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("INC-0042 high:"));
        for (s, a) in [
            (Status::Acknowledged, "acknowledge"),
            (Status::Contained, "acknowledge"),
            (Status::Resolved, "resolve"),
            (Status::FalsePositive, "resolve"),
        ] {
            let b = pagerduty_body("R", "s", &alert(s));
            assert_eq!(b["event_action"], a);
            assert_eq!(b["dedup_key"], "INC-0042");
            assert!(b.get("payload").is_none());
        }
    }

    #[test]
    fn slack_text_is_escaped_and_bounded() {
        let mut n = alert(Status::Open);
        n.slack = Some(format!("<!channel> a & b {}", "x".repeat(4000)));
        let b = slack_body(&n);
        let text = b["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(text.starts_with("&lt;!channel&gt; a &amp; b"));
        assert_eq!(text.chars().count(), 3000);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
