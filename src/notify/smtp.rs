//! The SMTP channel (lettre, rustls): STARTTLS or implicit TLS, optional
//! authentication, a multipart text + HTML message (base64, so any
//! script and line length travel intact) whose Message-ID is
//! derived from the idempotency key, so a retried send carries the same id
//! and mail systems can drop the duplicate.

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as LettreTls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use super::channel::{key_hash, SendError};
use super::config::{ChannelSpec, KindSpec, Tls};
use super::template::to_html;
use super::Notification;

#[derive(Debug)]
pub(crate) struct Smtp {
    transport: SmtpTransport,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// The domain part of Message-IDs.
    domain: String,
}

impl Smtp {
    pub(crate) fn open(spec: &ChannelSpec) -> Result<Smtp, SendError> {
        let KindSpec::Smtp {
            host,
            port,
            tls,
            ca,
            credentials,
            from,
            to,
        } = &spec.kind
        else {
            return Err(SendError::permanent(&spec.name, "not an smtp channel"));
        };
        let bad = |m: String| SendError::permanent(&spec.name, m);
        let params = || {
            let mut b = TlsParameters::builder(host.clone());
            if let Some(pem) = ca {
                let cert = Certificate::from_pem(pem).map_err(|e| bad(format!("ca_file: {e}")))?;
                b = b.add_root_certificate(cert);
            }
            b.build()
                .map_err(|e| bad(format!("TLS setup for {host}: {e}")))
        };
        let mut builder = SmtpTransport::builder_dangerous(host.as_str())
            .port(*port)
            .timeout(Some(spec.timeout));
        builder = match tls {
            Tls::Starttls => builder.tls(LettreTls::Required(params()?)),
            Tls::Implicit => builder.tls(LettreTls::Wrapper(params()?)),
            Tls::None => builder.tls(LettreTls::None),
        };
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        let from: Mailbox = from
            .parse()
            .map_err(|e| bad(format!("from `{from}`: {e}")))?;
        let to = to
            .iter()
            .map(|a| a.parse().map_err(|e| bad(format!("to `{a}`: {e}"))))
            .collect::<Result<Vec<Mailbox>, _>>()?;
        let domain = from.email.domain().to_string();
        Ok(Smtp {
            transport: builder.build(),
            from,
            to,
            domain,
        })
    }

    pub(crate) fn send(&self, channel: &str, n: &Notification) -> Result<String, SendError> {
        let message_id = format!("<{}.breachd@{}>", key_hash(&n.key), self.domain);
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(n.subject.as_str())
            .message_id(Some(message_id.clone()));
        if n.to.is_empty() {
            for to in &self.to {
                b = b.to(to.clone());
            }
        } else {
            for a in &n.to {
                let to: Mailbox = a
                    .parse()
                    .map_err(|e| SendError::permanent(channel, format!("recipient `{a}`: {e}")))?;
                b = b.to(to);
            }
        }
        let body = MultiPart::alternative()
            .singlepart(
                SinglePart::builder().header(ContentType::TEXT_PLAIN).body(
                    Body::new_with_encoding(n.body.clone(), ContentTransferEncoding::Base64)
                        .map_err(|_| SendError::permanent(channel, "cannot encode the body"))?,
                ),
            )
            .singlepart(
                SinglePart::builder().header(ContentType::TEXT_HTML).body(
                    Body::new_with_encoding(
                        to_html(&n.subject, &n.body),
                        ContentTransferEncoding::Base64,
                    )
                    .map_err(|_| SendError::permanent(channel, "cannot encode the body"))?,
                ),
            );
        let message = b
            .multipart(body)
            .map_err(|e| SendError::permanent(channel, format!("cannot build the message: {e}")))?;
        self.transport
            .send(&message)
            .map_err(|e| classify(channel, &e))?;
        Ok(message_id)
    }
}

/// 4xx replies, timeouts and broken connections are worth a retry; 5xx
/// replies, TLS failures (a certificate the admin must fix), a server that
/// does not offer the STARTTLS we require, and messages lettre cannot build
/// are not.
fn classify(channel: &str, e: &lettre::transport::smtp::Error) -> SendError {
    let reason = e.to_string();
    if e.is_permanent() || e.is_tls() || e.is_client() || tls_handshake_refused(e) {
        SendError::permanent(channel, reason)
    } else {
        SendError::transient(channel, reason)
    }
}

/// rustls reports a refused handshake (an untrusted or mismatched
/// certificate, no common protocol) as an `InvalidData` I/O error, which
/// lettre passes on as a network error: retrying cannot fix it.
fn tls_handshake_refused(e: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::InvalidData {
                return true;
            }
        }
        source = s.source();
    }
    false
}
