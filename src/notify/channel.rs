//! `Channel`: one configured way to deliver a [`Notification`], opened from
//! its [`ChannelSpec`]. A send is one blocking call with the notification's
//! idempotency key; its error says whether retrying can help.
//!
//! Blocking on purpose: sends are few (an incident's handful of notices),
//! each bounded by the channel's timeout, and the outbox worker that will
//! call them can run them on a blocking thread (`tokio::task::spawn_blocking`).
//! Open channels outside an async context: the blocking HTTP client owns a
//! small runtime of its own.

use super::config::{ChannelSpec, KindSpec};
use super::Notification;

/// A delivered notification: which channel, and what the receiver gave back
/// (a Message-ID, an HTTP status, a file path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub channel: String,
    pub detail: String,
}

/// Why a send failed, classified for the outbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying with backoff: the network, a timeout, a 4xx SMTP
    /// reply, HTTP 408/429/5xx.
    #[error("channel `{channel}`: temporary failure, will retry: {reason}")]
    Transient { channel: String, reason: String },
    /// Retrying the same thing will fail again: a rejected address or
    /// payload, bad credentials, a TLS certificate problem. Fix, then resend.
    #[error("channel `{channel}`: permanent failure, fix and resend: {reason}")]
    Permanent { channel: String, reason: String },
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient { .. })
    }
    pub(crate) fn transient(channel: &str, reason: impl Into<String>) -> SendError {
        SendError::Transient {
            channel: channel.to_string(),
            reason: reason.into(),
        }
    }
    pub(crate) fn permanent(channel: &str, reason: impl Into<String>) -> SendError {
        SendError::Permanent {
            channel: channel.to_string(),
            reason: reason.into(),
        }
    }
}

/// An opened channel.
#[derive(Debug)]
pub struct Channel {
    name: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Smtp(super::smtp::Smtp),
    Http(super::http::Http),
    File(super::file::FileDrop),
}

impl Channel {
    /// Opens a channel: builds its client. Connects nowhere yet.
    pub fn open(spec: &ChannelSpec) -> Result<Channel, SendError> {
        let kind = match &spec.kind {
            KindSpec::Smtp { .. } => Kind::Smtp(super::smtp::Smtp::open(spec)?),
            KindSpec::File { dir } => Kind::File(super::file::FileDrop::new(dir.clone())),
            _ => Kind::Http(super::http::Http::open(spec)?),
        };
        Ok(Channel {
            name: spec.name.clone(),
            kind,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Delivers `n` once. Sending the same key again is safe where the
    /// receiver can tell (webhook `Idempotency-Key`, PagerDuty `dedup_key`,
    /// the same Message-ID, the same file); Slack cannot, so the outbox must
    /// record a Slack send before retrying anything else.
    pub fn send(&self, n: &Notification) -> Result<Receipt, SendError> {
        let sent = match &self.kind {
            Kind::Smtp(s) => s.send(&self.name, n),
            Kind::Http(h) => h.send(&self.name, n),
            Kind::File(f) => f.send(&self.name, n),
        };
        let detail = sent.inspect_err(|e| {
            tracing::warn!(
                channel = %self.name,
                incident_id = %n.incident_id,
                template = %n.template,
                key = %n.key,
                transient = e.is_transient(),
                error = %e,
                "notification not delivered"
            );
        })?;
        tracing::info!(
            channel = %self.name,
            incident_id = %n.incident_id,
            template = %n.template,
            key = %n.key,
            detail = %detail,
            "notification delivered"
        );
        Ok(Receipt {
            channel: self.name.clone(),
            detail,
        })
    }
}

/// A short stable hash of an idempotency key, for Message-IDs and file names.
pub(crate) fn key_hash(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(key.as_bytes());
    crate::incident::audit::hex(&d[..12])
}
