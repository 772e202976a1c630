//! The contact relay (issue #20, point 2): a company that holds a live
//! grant for `marketing` or `service_provision` sends the person a message
//! through apiome, which delivers it only on the person's terms — a
//! channel they allowed (email, to their verified notification address,
//! which the company never learns), inside their hours in their time
//! zone, under their weekly cap — and refuses it otherwise.
//!
//! [`send`] owns its transaction: it locks the person's row (so that
//! concurrent sends count one after another and the weekly cap holds
//! under any number of them), decides with [`decide`] (pure), and records
//! the message, its ledger entry and, when it goes, its outbox mail, for a
//! refused message as much as a delivered one; a refusal is returned
//! after the commit. Another company's grant is not found and records
//! nothing, so a company learns nothing of people it holds no grant of.
//!
//! | refusal | when | answer |
//! |---|---|---|
//! | `blocked` | the person blocks the company (a block also ends its grants) | 403 |
//! | `grant_not_live` | the grant is revoked or expired | 409 |
//! | `purpose` | the grant is for another purpose | 403 |
//! | `unsubscribed` | the person ended this company's contact from a mail | 403 |
//! | `no_contact` | no channel, or a cap of 0 a week | 403 |
//! | `no_channel` | no channel apiome delivers on (email) | 403 |
//! | `no_verified_address` | no verified notification address | 403 |
//! | `outside_hours` | outside the hours, in the person's zone | 409 + next time |
//! | `over_weekly_cap` | as many delivered in the last 7 days as the cap | 409 + next time |
//!
//! The mail's one-click unsubscribe ([`stop`]) ends that company's
//! permission for good; its token is the notifications' HMAC over the
//! person and `contact:<company>`.

use consent_policy::{CompanyId, ContactChannel, ContactPreferences, Purpose};
use store::{MessageOutcome, MessageRecord, PersonId, Store, StoredMessage};
use time::{Duration, OffsetDateTime};

use crate::BrokerError;

/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest text, in characters.
pub const MAX_TEXT_CHARS: usize = 5000;
/// Longest "why this is valuable to you", in characters.
pub const MAX_WHY_CHARS: usize = 1000;
/// Longest link, in bytes.
pub const MAX_LINK_LEN: usize = 2048;
/// The window the weekly cap counts over.
pub const CAP_WINDOW: Duration = Duration::days(7);

/// A message as the company sent it, checked: a subject of 1 to
/// [`MAX_SUBJECT_CHARS`] characters on one line, a text of 1 to
/// [`MAX_TEXT_CHARS`], a "why" of 1 to [`MAX_WHY_CHARS`] (required: the
/// connection must be valuable to the person), an `https` link if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    subject: String,
    text: String,
    link: Option<String>,
    why: String,
}

impl Message {
    /// Checks each field; the error names the first bad one.
    ///
    /// # Errors
    /// [`BrokerError::Invalid`] naming `subject`, `text`, `link` or `why`.
    pub fn parse(
        subject: &str,
        text: &str,
        link: Option<&str>,
        why: Option<&str>,
    ) -> Result<Self, BrokerError> {
        let subject = bounded("subject", subject, MAX_SUBJECT_CHARS, false)?;
        let text = bounded("text", text, MAX_TEXT_CHARS, true)?;
        let link = link.map(parse_link).transpose()?;
        let why = bounded("why_valuable", why.unwrap_or_default(), MAX_WHY_CHARS, true)?;
        Ok(Message {
            subject,
            text,
            link,
            why,
        })
    }
}

fn bounded(
    field: &'static str,
    text: &str,
    max_chars: usize,
    lines: bool,
) -> Result<String, BrokerError> {
    let trimmed = text.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > max_chars {
        return Err(BrokerError::Invalid {
            field,
            detail: format!("`{field}` is 1 to {max_chars} characters"),
        });
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !(lines && c == '\n'))
    {
        return Err(BrokerError::Invalid {
            field,
            detail: format!("`{field}` holds a control character"),
        });
    }
    Ok(trimmed.to_owned())
}

fn parse_link(link: &str) -> Result<String, BrokerError> {
    let invalid = |detail: &str| BrokerError::Invalid {
        field: "link",
        detail: detail.to_owned(),
    };
    if link.len() > MAX_LINK_LEN {
        return Err(invalid("a link is at most 2048 bytes"));
    }
    let url = url::Url::parse(link).map_err(|_| invalid("not a URL"))?;
    if url.scheme() != "https" || url.host_str().is_none() || !url.username().is_empty() {
        return Err(invalid(
            "a link is an https:// URL with a host and no user name",
        ));
    }
    Ok(url.to_string())
}

/// Why a message was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The grant is revoked or expired.
    GrantNotLive,
    /// The person blocks the company.
    Blocked,
    /// The grant's purpose is not `marketing` or `service_provision`.
    Purpose(Purpose),
    /// The person ended this company's contact from a mail.
    Unsubscribed,
    /// The person allows no contact (no channel, or 0 a week).
    NoContact,
    /// None of the person's channels is one apiome delivers on.
    NoChannel,
    /// The person has no verified address.
    NoVerifiedAddress,
    /// Outside the hours; the next instant inside them.
    OutsideHours(Option<OffsetDateTime>),
    /// The week's cap is reached; when the next may go.
    OverWeeklyCap(Option<OffsetDateTime>),
}

impl Refusal {
    /// Its name, as in the ledger.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::GrantNotLive => "grant_not_live",
            Refusal::Blocked => "blocked",
            Refusal::Purpose(_) => "purpose",
            Refusal::Unsubscribed => "unsubscribed",
            Refusal::NoContact => "no_contact",
            Refusal::NoChannel => "no_channel",
            Refusal::NoVerifiedAddress => "no_verified_address",
            Refusal::OutsideHours(_) => "outside_hours",
            Refusal::OverWeeklyCap(_) => "over_weekly_cap",
        }
    }

    /// When a message could go: only for a refusal that ends.
    pub fn next_allowed_at(self) -> Option<OffsetDateTime> {
        match self {
            Refusal::OutsideHours(next) | Refusal::OverWeeklyCap(next) => next,
            _ => None,
        }
    }

    /// In words, for the company.
    pub fn detail(self) -> String {
        match self {
            Refusal::GrantNotLive => "the grant was revoked or has expired".to_owned(),
            Refusal::Blocked => "the person blocks this company".to_owned(),
            Refusal::Purpose(p) => format!(
                "a grant for {} does not allow contact; it takes marketing or service_provision",
                p.as_str()
            ),
            Refusal::Unsubscribed => "the person ended this company's contact".to_owned(),
            Refusal::NoContact => "the person allows no contact".to_owned(),
            Refusal::NoChannel => "the person allows no channel apiome delivers on".to_owned(),
            Refusal::NoVerifiedAddress => "the person cannot be reached".to_owned(),
            Refusal::OutsideHours(_) => "outside the hours the person allows".to_owned(),
            Refusal::OverWeeklyCap(_) => {
                "the person's weekly cap of messages is reached".to_owned()
            }
        }
    }
}

/// What [`decide`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct ContactFacts<'a> {
    /// The grant is live now.
    pub grant_live: bool,
    /// The person blocks the company.
    pub blocked: bool,
    /// The grant's purpose.
    pub purpose: Purpose,
    /// The person ended this company's contact.
    pub unsubscribed: bool,
    /// Their preferences.
    pub preferences: &'a ContactPreferences,
    /// They have a verified address.
    pub verified_address: bool,
    /// When each message delivered to them in the last [`CAP_WINDOW`]
    /// went, oldest first.
    pub delivered_in_window: &'a [OffsetDateTime],
}

/// Whether a message may go at `at`, on which channel; pure.
///
/// # Errors
/// The first refusal, in the order of the module's table.
pub fn decide(facts: &ContactFacts<'_>, at: OffsetDateTime) -> Result<ContactChannel, Refusal> {
    let prefs = facts.preferences;
    if facts.blocked {
        return Err(Refusal::Blocked);
    }
    if !facts.grant_live {
        return Err(Refusal::GrantNotLive);
    }
    if !matches!(
        facts.purpose,
        Purpose::Marketing | Purpose::ServiceProvision
    ) {
        return Err(Refusal::Purpose(facts.purpose));
    }
    if facts.unsubscribed {
        return Err(Refusal::Unsubscribed);
    }
    if !prefs.allows_contact() {
        return Err(Refusal::NoContact);
    }
    if !prefs.channels.contains(&ContactChannel::Email) {
        return Err(Refusal::NoChannel);
    }
    if !facts.verified_address {
        return Err(Refusal::NoVerifiedAddress);
    }
    if !prefs.is_within_hours(at) {
        return Err(Refusal::OutsideHours(prefs.next_within_hours(at)));
    }
    if let Some(max) = prefs.max_per_week {
        let sent = facts.delivered_in_window;
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        if sent.len() >= max {
            // The week frees a place when the oldest of the last `max`
            // leaves the window; then the hours decide.
            let frees = sent[sent.len() - max] + CAP_WINDOW;
            let next = prefs.next_within_hours(frees.max(at));
            return Err(Refusal::OverWeeklyCap(next));
        }
    }
    Ok(ContactChannel::Email)
}

/// A delivered message and its ledger entry's index.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The message.
    pub message: StoredMessage,
    /// Its `message_delivered` entry.
    pub ledger_index: u64,
}

/// Sends `message` from `company` under its grant `grant_id`. A refusal
/// is recorded and committed, then returned as
/// [`BrokerError::MessageRefused`]; another company's grant is
/// [`store::StoreError::GrantNotFound`] and records nothing.
pub async fn send(
    store: &Store,
    company: &CompanyId,
    grant_id: &str,
    message: &Message,
) -> Result<Sent, BrokerError> {
    let names = crate::company_names(store, std::iter::once(company)).await?;
    let company_name = names.of(company);
    let tx = store.begin().await?;
    // The person first, then the grant: the order a revocation locks in.
    let owner = tx.person_of_company_grant(company, grant_id).await?;
    tx.lock_person(&owner).await?;
    let grant = tx.company_grant(company, grant_id).await?;
    let person = &grant.person_id;
    let at = OffsetDateTime::now_utc();
    let preferences = crate::preferences::contact_of(&tx.person(person).await?);
    let address = tx
        .notify_settings(person)
        .await?
        .filter(|s| s.verified)
        .map(|s| s.address);
    let delivered = tx.delivered_since(person, at - CAP_WINDOW).await?;
    let facts = ContactFacts {
        grant_live: grant.is_live(at),
        blocked: tx.blocks(person, company).await?,
        purpose: grant.purpose,
        unsubscribed: tx.contact_stopped(person, company).await?,
        preferences: &preferences,
        verified_address: address.is_some(),
        delivered_in_window: &delivered,
    };
    let decided = decide(&facts, at);
    let outcome = match (decided, address) {
        (Ok(channel), Some(address)) => MessageOutcome::Delivered { channel, address },
        (Ok(_), None) => return Err(BrokerError::Corrupt("an address vanished".to_owned())),
        (Err(refusal), _) => MessageOutcome::Refused {
            reason: refusal.reason(),
            next_allowed_at: refusal.next_allowed_at(),
        },
    };
    let record = MessageRecord {
        subject: &message.subject,
        text: &message.text,
        link: message.link.as_deref(),
        why: &message.why,
        company_name: &company_name,
    };
    let sent_in_week = u64::try_from(delivered.len()).unwrap_or(u64::MAX) + 1;
    let (stored, ledger_index) = tx
        .record_message(&grant, record, &outcome, sent_in_week)
        .await?;
    tx.commit().await?;
    match decided {
        Ok(_) => Ok(Sent {
            message: stored,
            ledger_index,
        }),
        Err(refusal) => Err(BrokerError::MessageRefused {
            message_id: stored.id,
            refusal,
        }),
    }
}

/// A message as the person lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The message.
    pub message: StoredMessage,
    /// The sender's name.
    pub company: String,
}

/// The messages companies sent the person, newest first, with names.
pub async fn list(
    store: &Store,
    person: &PersonId,
    limit: u64,
) -> Result<Vec<Listed>, BrokerError> {
    let messages = store.messages_to(person, limit).await?;
    let ids: Vec<CompanyId> = messages
        .iter()
        .filter_map(|m| CompanyId::parse(&m.company_id).ok())
        .collect();
    let names = crate::company_names(store, ids.iter()).await?;
    Ok(messages
        .into_iter()
        .map(|message| Listed {
            company: CompanyId::parse(&message.company_id)
                .map_or_else(|_| message.company_id.clone(), |id| names.of(&id)),
            message,
        })
        .collect())
}

/// The unsubscribe target of `company`'s messages.
pub fn stop_target(company: &CompanyId) -> String {
    format!("contact:{}", company.as_str())
}

/// One-click unsubscribe from a relayed message: ends `company`'s
/// permission to contact `person` when `token` is theirs for it; `false`
/// (nothing changed) otherwise. Stopping twice records once.
pub async fn stop(
    store: &Store,
    key: &[u8],
    person: &PersonId,
    company: &CompanyId,
    token: &str,
) -> Result<bool, BrokerError> {
    if !crate::notifications::token_matches(key, person, &stop_target(company), token) {
        return Ok(false);
    }
    let tx = store.begin().await?;
    tx.stop_contact(person, company).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: BrokerError) -> &'static str {
        match e {
            BrokerError::Invalid { field, .. } => field,
            other => panic!("not an invalid field: {other:?}"),
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let ok = |s, t, l, w| Message::parse(s, t, l, w);
        assert_eq!(field(ok("", "t", None, Some("w")).unwrap_err()), "subject");
        assert_eq!(
            field(ok("a\r\nBcc: x@y.z", "t", None, Some("w")).unwrap_err()),
            "subject"
        );
        assert_eq!(field(ok("s", " ", None, Some("w")).unwrap_err()), "text");
        assert_eq!(field(ok("s", "t", None, None).unwrap_err()), "why_valuable");
        assert_eq!(
            field(ok("s", "t", None, Some("  ")).unwrap_err()),
            "why_valuable"
        );
        for link in [
            "javascript:alert(1)",
            "http://a.example",
            "https://u:p@a.example/",
            "nope",
        ] {
            assert_eq!(
                field(ok("s", "t", Some(link), Some("w")).unwrap_err()),
                "link"
            );
        }
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(field(ok("s", &long, None, Some("w")).unwrap_err()), "text");
        let good = ok(
            "s",
            "line\nline",
            Some("https://acme.example/offer"),
            Some("w"),
        )
        .unwrap();
        assert_eq!(good.link.as_deref(), Some("https://acme.example/offer"));
    }

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn prefs(max: Option<u32>) -> ContactPreferences {
        ContactPreferences::parse(
            &["email"],
            Some("09:00"),
            Some("18:00"),
            Some("Europe/Paris"),
            max,
        )
        .unwrap()
    }

    fn facts<'a>(p: &'a ContactPreferences, sent: &'a [OffsetDateTime]) -> ContactFacts<'a> {
        ContactFacts {
            grant_live: true,
            blocked: false,
            purpose: Purpose::Marketing,
            unsubscribed: false,
            preferences: p,
            verified_address: true,
            delivered_in_window: sent,
        }
    }

    #[test]
    fn each_refusal_in_its_order() {
        let p = prefs(Some(2));
        let noon = at("2026-12-07T11:00:00Z");
        assert_eq!(decide(&facts(&p, &[]), noon), Ok(ContactChannel::Email));
        let f = facts(&p, &[]);
        assert_eq!(
            decide(
                &ContactFacts {
                    grant_live: false,
                    blocked: true,
                    ..f
                },
                noon
            ),
            Err(Refusal::Blocked),
            "a block ends the grants too: it is named"
        );
        assert_eq!(
            decide(
                &ContactFacts {
                    grant_live: false,
                    ..f
                },
                noon
            ),
            Err(Refusal::GrantNotLive)
        );
        assert_eq!(
            decide(
                &ContactFacts {
                    purpose: Purpose::Analytics,
                    ..f
                },
                noon
            ),
            Err(Refusal::Purpose(Purpose::Analytics))
        );
        assert!(
            decide(
                &ContactFacts {
                    purpose: Purpose::ServiceProvision,
                    ..f
                },
                noon
            )
            .is_ok()
        );
        assert_eq!(
            decide(
                &ContactFacts {
                    unsubscribed: true,
                    ..f
                },
                noon
            ),
            Err(Refusal::Unsubscribed)
        );
        assert_eq!(
            decide(
                &ContactFacts {
                    verified_address: false,
                    ..f
                },
                noon
            ),
            Err(Refusal::NoVerifiedAddress)
        );
        let none = ContactPreferences::default();
        assert_eq!(decide(&facts(&none, &[]), noon), Err(Refusal::NoContact));
        let zero = prefs(Some(0));
        assert_eq!(decide(&facts(&zero, &[]), noon), Err(Refusal::NoContact));
        let sms = ContactPreferences::parse(&["sms"], None, None, None, None).unwrap();
        assert_eq!(decide(&facts(&sms, &[]), noon), Err(Refusal::NoChannel));
        assert_eq!(
            decide(&f, at("2026-12-07T18:00:00Z")),
            Err(Refusal::OutsideHours(Some(at("2026-12-08T08:00:00Z"))))
        );
    }

    #[test]
    fn the_cap_frees_a_place_when_the_oldest_leaves_the_week_inside_the_hours() {
        let p = prefs(Some(2));
        let sent = [at("2026-12-01T16:30:00Z"), at("2026-12-03T10:00:00Z")];
        let now = at("2026-12-07T11:00:00Z");
        // The 1st's leaves the week on the 8th at 16:30 UTC (17:30 Paris).
        assert_eq!(
            decide(&facts(&p, &sent), now),
            Err(Refusal::OverWeeklyCap(Some(at("2026-12-08T16:30:00Z"))))
        );
        assert!(decide(&facts(&p, &sent[1..]), now).is_ok());
        let late = [at("2026-12-01T17:30:00Z"), at("2026-12-03T10:00:00Z")];
        assert_eq!(
            decide(&facts(&p, &late), now),
            Err(Refusal::OverWeeklyCap(Some(at("2026-12-09T08:00:00Z")))),
            "freed at 18:30 Paris: the next morning"
        );
    }
}
