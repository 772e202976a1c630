//! Mail to people: rendering the outbox's rows, the transports, and the
//! tasks that send them and queue reminders and digests.
//!
//! Transports: SMTP through `lettre` (`--smtp-url`; the scheme decides
//! the TLS, see `config::parse_smtp_url`), or, with no SMTP configured,
//! one RFC 5322 file per mail in `DATA_DIR/outbox/<id>.eml`, written to a
//! temporary name and renamed, so a reader never sees half a mail and
//! writing one twice leaves one file.
//!
//! Delivery: a mail is sent at least once and, as far as we can, at most
//! once. The worker claims a row with a lease (its try counted before it
//! sends), sends, then marks it sent. A crash *before* the transport
//! accepted it leaves the row to be claimed again when the lease ends: it
//! is not lost. A crash in the narrow window *after* the SMTP server
//! accepted it and *before* the row is marked sent sends it again; the
//! resend carries the same `Message-ID` (the row's id), which mail stores
//! and most providers use to drop the duplicate, and the file outbox
//! overwrites the same file. That window is the one at-least-once case
//! left; SMTP offers no way to ask a server whether it took a message.
//!
//! Every mail carries `List-Unsubscribe` (a URL on this server with a
//! token that turns exactly that kind off for exactly that person) and
//! `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058). A mail
//! names companies, attribute labels, purposes and offers; it never holds
//! an attribute's value (the payloads are built without them).

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use store::{NoticeKind, QueuedMail, Store};
use url::Url;

use crate::config::MailConfig;
use crate::sweeper::Periodic;

/// How often the worker looks for due mail.
pub const SEND_INTERVAL: Duration = Duration::from_secs(1);
/// How often reminders and digests are looked for.
pub const NOTICE_INTERVAL: Duration = Duration::from_secs(1);
/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// The label of the server key the unsubscribe tokens are made with.
pub const UNSUBSCRIBE_KEY_LABEL: &str = "apiome unsubscribe v1";

/// Where mail goes.
#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Renders and sends the outbox's mail.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    public_url: Url,
    unsubscribe_key: Vec<u8>,
}

/// The mailer cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The SMTP URL was refused by the transport.
    #[error("the SMTP URL cannot be used: {0}")]
    Smtp(String),
    /// The `From:` address does not parse.
    #[error("invalid --mail-from address: {0}")]
    From(String),
    /// The outbox directory cannot be made.
    #[error("cannot make the mail outbox directory {0}: {1}")]
    Outbox(PathBuf, std::io::Error),
}

impl Mailer {
    /// The mailer for `config`: SMTP, or files under `data_dir/outbox`.
    pub fn new(
        config: &MailConfig,
        data_dir: &std::path::Path,
        public_url: &Url,
        unsubscribe_key: Vec<u8>,
    ) -> Result<Mailer, MailError> {
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
                    .map_err(|e| MailError::Smtp(e.to_string()))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            None => {
                use std::os::unix::fs::DirBuilderExt as _;
                let dir = data_dir.join("outbox");
                // Mails name a person's companies: as private as the rest
                // of the data directory.
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .map_err(|e| MailError::Outbox(dir.clone(), e))?;
                Transport::Files(dir)
            }
        };
        let host = public_url.host_str().unwrap_or("localhost");
        let from = config
            .from
            .clone()
            .unwrap_or_else(|| format!("apiome <apiome@{host}>"));
        let from = from.parse().map_err(|e| MailError::From(format!("{e}")))?;
        Ok(Mailer {
            transport,
            from,
            public_url: public_url.clone(),
            unsubscribe_key,
        })
    }

    fn link(&self, path: &str) -> String {
        let mut url = self.public_url.clone();
        url.set_path(path);
        url.to_string()
    }

    /// The one-click unsubscribe URL of `person` for `target` (a kind's
    /// name, or `all`).
    pub fn unsubscribe_url(&self, person: &store::PersonId, target: &str) -> String {
        let token = broker::notifications::unsubscribe_token(&self.unsubscribe_key, person, target);
        let mut url = self.public_url.clone();
        url.set_path("/v1/notifications/unsubscribe");
        url.query_pairs_mut()
            .append_pair("person", person.as_str())
            .append_pair("kind", target)
            .append_pair("token", &token);
        url.to_string()
    }

    /// The RFC 5322 message of an outbox row.
    pub fn render(&self, mail: &QueuedMail) -> Result<Message, String> {
        let (subject, body, unsubscribe) = if mail.kind == store::MESSAGE_MAIL_KIND {
            self.relayed(mail)?
        } else {
            let (subject, body) = self.words(&mail.kind, &mail.payload)?;
            let target = match NoticeKind::parse(&mail.kind) {
                Some(kind) => kind.as_str(),
                None => "all",
            };
            let unsubscribe = self.unsubscribe_url(&mail.person_id, target);
            let body = format!(
                "{body}\n\n--\nYou get this because you asked apiome to tell you. \
                 Stop these mails: {unsubscribe}\nChoose what you are told: {}\n",
                self.link("/notifications")
            );
            (subject, body, unsubscribe)
        };
        let host = self.public_url.host_str().unwrap_or("localhost");
        let to: Mailbox = mail.to.parse().map_err(|e| format!("address: {e}"))?;
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{}@{host}>", mail.id)))
            .header(ContentType::TEXT_PLAIN)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{unsubscribe}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ))
            // 8bit: links stay whole on one line (quoted-printable would
            // fold them), and any company name's letters pass as UTF-8.
            .body(eight_bit(&body)?)
            .map_err(|e| e.to_string())?;
        message.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
        Ok(message)
    }

    /// The one-click URL that ends `company`'s contact with `person`.
    pub fn stop_contact_url(&self, person: &store::PersonId, company: &str) -> String {
        let target = format!("contact:{company}");
        let token =
            broker::notifications::unsubscribe_token(&self.unsubscribe_key, person, &target);
        let mut url = self.public_url.clone();
        url.set_path("/v1/messages/unsubscribe");
        url.query_pairs_mut()
            .append_pair("person", person.as_str())
            .append_pair("company", company)
            .append_pair("token", &token);
        url.to_string()
    }

    /// Subject, text and unsubscribe URL of a company's relayed message:
    /// its words, set apart from apiome's, with why the company says it
    /// is valuable, a one-click stop for that company and a block link.
    fn relayed(&self, mail: &QueuedMail) -> Result<(String, String, String), String> {
        let p = &mail.payload;
        let text = |key: &str| p[key].as_str().unwrap_or_default().to_owned();
        let (company, company_id) = (text("company"), text("company_id"));
        let stop = self.stop_contact_url(&mail.person_id, &company_id);
        let mut block = self.public_url.clone();
        block.set_path("/messages");
        block.query_pairs_mut().append_pair("block", &company_id);
        let link = p["link"]
            .as_str()
            .map(|l| format!("\n\nTheir link: {l}"))
            .unwrap_or_default();
        let body = format!(
            "{company} sent you this message through apiome, under the grant you gave it.\n\
             Why {company} says it is valuable to you: {}\n\n\
             ----- {company} writes -----\n{}{link}\n----- end of {company}'s message -----\n\n\
             {company} does not know your address: apiome delivered this on the terms you set \
             (channel, hours, how many a week).\n\
             Stop {company} contacting you (one click): {stop}\n\
             Block {company} (ends every grant it holds): {}\n\
             Every message sent to you: {}\n",
            fold(&text("why")),
            fold(&text("text")),
            block,
            self.link("/messages"),
        );
        Ok((format!("{company}: {}", text("subject")), body, stop))
    }

    /// Subject and text of one mail.
    fn words(&self, kind: &str, p: &Value) -> Result<(String, String), String> {
        let text = |key: &str| p[key].as_str().unwrap_or_default().to_owned();
        let list = |v: &Value| {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        Ok(match kind {
            "verify" => (
                "Confirm your address for apiome notifications".to_owned(),
                format!(
                    "Someone (we hope you) asked apiome to send notifications to this address.\n\n\
                     Confirm it here (the link works once, for 24 hours):\n{}\n\n\
                     Until you do, this address gets nothing else from us. \
                     If it was not you, ignore this mail.",
                    text("link")
                ),
            ),
            "request_waiting" => {
                let company = text("company");
                let offer = p["offer"]
                    .as_str()
                    .map_or_else(|| "no offer".to_owned(), |o| format!("{o} to you"));
                (
                    format!("{company} asks for your data"),
                    format!(
                        "{company} asks for: {}\nWhy: to {}\nOffer: {offer}\n\n\
                         Nothing is shared until you answer. Answer in your inbox:\n{}\n\n\
                         The request ends unanswered after 7 days.",
                        list(&p["attributes"]),
                        text("purpose"),
                        self.link("/inbox"),
                    ),
                )
            }
            "expiring" => {
                let company = text("company");
                let ends = p["ends_at"]
                    .as_i64()
                    .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                    .map(crate::pages::time_words)
                    .unwrap_or_default();
                if p["subject"] == "grant" {
                    (
                        format!("Your grant to {company} ends on {ends}"),
                        format!(
                            "{company} may read {} (to {}) until {ends}.\n\n\
                             Let it lapse: do nothing, and it ends then.\n\
                             Renew: {company} asks you again; you answer in your inbox.\n\
                             End it now, or see all your grants: {}",
                            list(&p["attributes"]),
                            text("purpose"),
                            self.link("/grants"),
                        ),
                    )
                } else {
                    (
                        format!("{company}'s request ends on {ends}"),
                        format!(
                            "{company} asked for {} (to {}). Unanswered, the request \
                             lapses on {ends} and nothing is shared.\n\n\
                             Answer it in your inbox: {}",
                            list(&p["attributes"]),
                            text("purpose"),
                            self.link("/inbox"),
                        ),
                    )
                }
            }
            "first_use" => {
                let company = text("company");
                (
                    format!("{company} used your grant for the first time"),
                    format!(
                        "{company} read {} under the grant you gave it. \
                         Every read is in your activity: {}\n\n\
                         End the grant at any time: {}",
                        list(&p["attributes"]),
                        self.link("/activity"),
                        self.link("/grants"),
                    ),
                )
            }
            "digest" => {
                let items = p["items"].as_array().cloned().unwrap_or_default();
                let mut lines = Vec::new();
                for item in &items {
                    let kind = item["kind"].as_str().unwrap_or_default();
                    let (subject, _) = self.words(kind, &item["payload"])?;
                    lines.push(format!("- {subject}"));
                }
                (
                    format!("Your apiome digest: {} notices", items.len()),
                    format!(
                        "Since your last digest:\n\n{}\n\nYour inbox: {}\nYour grants: {}",
                        lines.join("\n"),
                        self.link("/inbox"),
                        self.link("/grants"),
                    ),
                )
            }
            other => return Err(format!("no words for a {other:?} mail")),
        })
    }

    /// Hands one mail to the transport; `Ok` once it was accepted.
    pub async fn send(&self, mail: &QueuedMail) -> Result<(), String> {
        let message = self.render(mail)?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::Files(dir) => write_eml(dir, &mail.id, &message.formatted()).await,
        }
    }
}

/// `text` with every line cut to at most [`FOLD_BYTES`] bytes, at a
/// character boundary: a company's long paragraph must not make its mail
/// unsendable (RFC 5322 allows 998 bytes a line).
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / FOLD_BYTES);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut width = 0;
        for c in line.chars() {
            if width + c.len_utf8() > FOLD_BYTES {
                out.push('\n');
                width = 0;
            }
            out.push(c);
            width += c.len_utf8();
        }
    }
    out
}

/// The longest line [`fold`] leaves.
const FOLD_BYTES: usize = 900;

/// `text` as an 8bit body: CRLF line ends, every line within RFC 5322's
/// 998 bytes, no NUL (lettre would choose quoted-printable for any line
/// over 76 characters, folding the links).
fn eight_bit(text: &str) -> Result<Body, String> {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if crlf.contains('\0') || crlf.split("\r\n").any(|line| line.len() > 998) {
        return Err("a mail line over 998 bytes".to_owned());
    }
    Ok(Body::dangerous_pre_encoded(
        crlf.into_bytes(),
        ContentTransferEncoding::EightBit,
    ))
}

/// Writes `bytes` as `dir/<id>.eml`, atomically: a temporary file synced,
/// then renamed over the name.
async fn write_eml(dir: &std::path::Path, id: &str, bytes: &[u8]) -> Result<(), String> {
    use tokio::io::AsyncWriteExt as _;
    let path = dir.join(format!("{id}.eml"));
    let temporary = dir.join(format!(".{id}.eml.tmp"));
    let write = async {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&temporary, &path).await
    };
    write
        .await
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Sends due mail every [`SEND_INTERVAL`]; a full batch looks again at
/// once.
pub fn spawn_mail_worker(store: Store, mailer: Mailer) -> Periodic {
    Periodic::spawn(SEND_INTERVAL, move || {
        let (store, mailer) = (store.clone(), mailer.clone());
        async move {
            loop {
                let claimed = match store.claim_mail(store::MAIL_BATCH).await {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::warn!(%error, "claiming mail");
                        break;
                    }
                };
                for mail in &claimed {
                    let outcome = mailer.send(mail).await;
                    if let Err(error) = &outcome {
                        tracing::warn!(%error, kind = %mail.kind, attempts = mail.attempts + 1, "a mail was not sent");
                    }
                    if let Err(error) = store.record_mail_attempt(mail, outcome).await {
                        tracing::warn!(%error, "recording a mail's outcome");
                    }
                }
                if (claimed.len() as u64) < store::MAIL_BATCH {
                    break;
                }
            }
        }
    })
}

/// Queues reminders before ends, gathers digests and deletes mail done
/// with for [`store::MAIL_RETENTION`], every [`NOTICE_INTERVAL`].
pub fn spawn_notice_sweeper(store: Store, config: &MailConfig) -> Periodic {
    let (before, every) = (config.reminder_before, config.digest_every);
    Periodic::spawn(NOTICE_INTERVAL, move || {
        let store = store.clone();
        async move {
            match store.remind_expiring(before).await {
                Ok(0) => {}
                Ok(reminded) => tracing::debug!(reminded, "queued expiry reminders"),
                Err(error) => tracing::warn!(%error, "queueing expiry reminders"),
            }
            match store.compose_digests(every).await {
                Ok(0) => {}
                Ok(digests) => tracing::debug!(digests, "queued digests"),
                Err(error) => tracing::warn!(%error, "composing digests"),
            }
            match store.prune_mail().await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "deleted old mail"),
                Err(error) => tracing::warn!(%error, "deleting old mail"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_paragraph_is_folded_within_the_line_limit_and_keeps_every_character() {
        let paragraph = format!("{}\nshort", "é".repeat(1200));
        let folded = fold(&paragraph);
        assert!(folded.split('\n').all(|line| line.len() <= FOLD_BYTES));
        assert_eq!(folded.replace('\n', ""), paragraph.replace('\n', ""));
        assert!(eight_bit(&folded).is_ok());
        assert!(
            eight_bit(&paragraph).is_err(),
            "unfolded, the mail could not be sent"
        );
    }
}
