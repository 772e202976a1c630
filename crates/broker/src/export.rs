//! A person takes everything apiome holds about them (GDPR Art. 15, and
//! Art. 20's portable copy) as one document.
//!
//! [`person_export`] reads each kind of record through the same store
//! reads the person's pages and `/v1/me/...` lists use, and hands it to an
//! [`ExportSink`] part by part, in the document's order, so the adapter
//! renders each part as it arrives and the whole export is never held
//! twice (once as values, once as text).
//!
//! | section | read with | complete because |
//! |---|---|---|
//! | person, preferences | `person`, `notify_settings` | one row each |
//! | attributes, rules, blocked, passkeys | one read each | each is bounded per person (`MAX_*_PER_PERSON`) |
//! | requests, grants, receipts, transfers, payouts, uses | keyset pages, newest first | paged on `(created_at, id)` until a short page |
//! | activity | [`crate::activity::page`] | paged on the ledger index below the checkpoint's tree size |
//!
//! Consistency: every list is paged by a key that never changes, so a
//! record written while the export runs can be missing (it is newer than
//! the export) but none is repeated or skipped. The activity is cut at the
//! checkpoint the caller passes: every entry in it has an inclusion proof
//! against that one checkpoint, and entries appended later are left to the
//! next export. Values (attributes, contact data) pass through the sink
//! only; nothing here logs or ledgers them.

use consent_policy::CompanyId;
use store::{
    EarningsBalance, Person, PersonId, PersonTransfer, ReportedUse, Store, StoredAttribute,
    StoredPasskeyRow, StoredPayout, StoredReceipt, StoredRule,
};
use time::OffsetDateTime;

use crate::BrokerError;
use crate::activity::{ActivityEntry, Checkpoint};
use crate::grants::NamedGrant;
use crate::inbox::NamedRequest;

/// The document format's name and version.
pub const EXPORT_FORMAT: &str = "apiome-export/1";
/// Rows read per page of each paged list; the activity's pages are at most
/// [`store::MAX_ACTIVITY_PAGE`].
pub const EXPORT_PAGE: u64 = 200;

/// The lists of the document, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// [`Part::Attribute`]s, by key.
    Attributes,
    /// [`Part::Rule`]s, in the order they apply.
    Rules,
    /// [`Part::Blocked`] companies, by id.
    Blocked,
    /// [`Part::Request`]s sent to the person, any state, newest first.
    Requests,
    /// [`Part::Grant`]s, live, revoked or expired, newest first.
    Grants,
    /// [`Part::Receipt`]s, newest first.
    Receipts,
    /// [`Part::Balance`]s, one per currency.
    Balances,
    /// [`Part::Transfer`]s (payments to the person), newest first.
    Transfers,
    /// [`Part::Payout`]s, newest first.
    Payouts,
    /// [`Part::Use`]s companies reported, newest first.
    Uses,
    /// [`Part::Message`]s companies sent the person, newest first.
    Messages,
    /// [`Part::Passkey`]s, oldest first.
    Passkeys,
    /// [`Part::Activity`] entries, newest first.
    Activity,
}

impl Section {
    /// Every section, in the document's order.
    pub const ALL: [Section; 13] = [
        Section::Attributes,
        Section::Rules,
        Section::Blocked,
        Section::Requests,
        Section::Grants,
        Section::Receipts,
        Section::Balances,
        Section::Transfers,
        Section::Payouts,
        Section::Uses,
        Section::Messages,
        Section::Passkeys,
        Section::Activity,
    ];
}

/// A use with the name of the company that reported it.
#[derive(Debug)]
pub struct NamedUse {
    /// The use.
    pub reported: ReportedUse,
    /// The company's name (its id when the company is gone).
    pub company_name: String,
}

/// One record of the export.
#[derive(Debug)]
pub enum Part {
    /// An attribute, with its value.
    Attribute(StoredAttribute),
    /// A standing rule.
    Rule(StoredRule),
    /// A blocked company and its name (`None` when it is gone).
    Blocked(CompanyId, Option<String>),
    /// A request sent to the person.
    Request(NamedRequest),
    /// A grant the person gave.
    Grant(NamedGrant),
    /// A signed consent receipt.
    Receipt(StoredReceipt),
    /// The earnings in one currency.
    Balance(EarningsBalance),
    /// A payment offered or made to the person.
    Transfer(PersonTransfer),
    /// A payout the person asked for.
    Payout(StoredPayout),
    /// A use a company reported of the person's data.
    Use(NamedUse),
    /// A message a company sent through the relay (delivered or refused).
    Message(crate::messages::Listed),
    /// A passkey (its name and times; the sink must not show key material).
    Passkey(StoredPasskeyRow),
    /// A ledger entry naming the person, with its proof.
    Activity(ActivityEntry),
}

/// What opens the document: who, when, against which checkpoint.
#[derive(Debug)]
pub struct Head {
    /// The person, with their sharing default, longest grant and contact
    /// preferences.
    pub person: Person,
    /// Their notification address and choices, if they set any.
    pub notifications: Option<store::NotifySettings>,
    /// When the export was started.
    pub exported_at: OffsetDateTime,
    /// The checkpoint the activity is proved against.
    pub checkpoint: Checkpoint,
}

/// Where an export goes: [`ExportSink::head`] once, then each [`Section`]
/// of [`Section::ALL`] in order, opened, its parts, closed.
pub trait ExportSink {
    /// The document's opening.
    ///
    /// # Errors
    /// Whatever the sink cannot write; the export stops.
    fn head(&mut self, head: &Head) -> Result<(), BrokerError>;
    /// A list begins.
    ///
    /// # Errors
    /// As [`ExportSink::head`].
    fn open(&mut self, section: Section) -> Result<(), BrokerError>;
    /// One record of the open list.
    ///
    /// # Errors
    /// As [`ExportSink::head`].
    fn part(&mut self, part: Part) -> Result<(), BrokerError>;
    /// The open list ends.
    ///
    /// # Errors
    /// As [`ExportSink::head`].
    fn close(&mut self, section: Section) -> Result<(), BrokerError>;
}

/// Everything apiome holds about `person`, into `sink`; the activity cut
/// at `checkpoint` (a signed checkpoint of the log, from the caller that
/// holds the log's key).
///
/// # Errors
/// The store's (an unknown person is `PersonNotFound`), or the sink's.
pub async fn person_export(
    store: &Store,
    person: &PersonId,
    checkpoint: Checkpoint,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    export_paged(store, person, checkpoint, EXPORT_PAGE, sink).await
}

async fn export_paged(
    store: &Store,
    person: &PersonId,
    checkpoint: Checkpoint,
    page: u64,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    let head = Head {
        person: store.person(person).await?,
        notifications: crate::notifications::settings(store, person).await?,
        exported_at: OffsetDateTime::now_utc(),
        checkpoint,
    };
    sink.head(&head)?;
    for section in Section::ALL {
        sink.open(section)?;
        match section {
            Section::Attributes => {
                for a in store.attributes(person).await? {
                    sink.part(Part::Attribute(a))?;
                }
            }
            Section::Rules => {
                for r in store.rules(person).await? {
                    sink.part(Part::Rule(r))?;
                }
            }
            Section::Blocked => blocked(store, person, sink).await?,
            Section::Requests => requests(store, person, page, sink).await?,
            Section::Grants => grants(store, person, page, sink).await?,
            Section::Receipts => receipts(store, person, page, sink).await?,
            Section::Balances => {
                for b in store.earnings_page(person, None, 1).await?.balances {
                    sink.part(Part::Balance(b))?;
                }
            }
            Section::Transfers => transfers(store, person, page, sink).await?,
            Section::Payouts => payouts(store, person, page, sink).await?,
            Section::Uses => uses(store, person, page, sink).await?,
            Section::Messages => messages(store, person, page, sink).await?,
            Section::Passkeys => {
                for p in store.passkeys(person).await? {
                    sink.part(Part::Passkey(p))?;
                }
            }
            Section::Activity => activity(store, person, checkpoint, page, sink).await?,
        }
        sink.close(section)?;
    }
    Ok(())
}

/// The key of the last row of a full page, to read the next one after;
/// `None` after a short page (the last).
fn next_key<T>(
    rows: &[T],
    page: u64,
    key: impl Fn(&T) -> (OffsetDateTime, String),
) -> Option<(OffsetDateTime, String)> {
    match rows.last() {
        Some(last) if rows.len() as u64 >= page => Some(key(last)),
        _ => None,
    }
}

fn after(key: &Option<(OffsetDateTime, String)>) -> Option<(OffsetDateTime, &str)> {
    key.as_ref().map(|(at, id)| (*at, id.as_str()))
}

async fn blocked(
    store: &Store,
    person: &PersonId,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    let ids = store.blocked_companies(person).await?;
    let names = crate::company_names(store, ids.iter()).await?;
    for id in ids {
        let name = names.get(&id);
        sink.part(Part::Blocked(id, name))?;
    }
    Ok(())
}

async fn requests(
    store: &Store,
    person: &PersonId,
    page: u64,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    let mut key = None;
    loop {
        let rows = store
            .requests_of_person_page(person, after(&key), page)
            .await?;
        key = next_key(&rows, page, |r| (r.created_at, r.id.clone()));
        let names = crate::company_names(store, rows.iter().map(|r| &r.company_id)).await?;
        for request in rows {
            let company_name = names.of(&request.company_id);
            sink.part(Part::Request(NamedRequest {
                request,
                company_name,
            }))?;
        }
        if key.is_none() {
            return Ok(());
        }
    }
}

async fn grants(
    store: &Store,
    person: &PersonId,
    page: u64,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    let mut key = None;
    loop {
        let rows = store
            .grants_of_person_page(person, after(&key), page)
            .await?;
        key = next_key(&rows, page, |g| (g.created_at, g.id.clone()));
        let names = crate::company_names(store, rows.iter().map(|g| &g.company_id)).await?;
        for grant in rows {
            let company_name = names.of(&grant.company_id);
            sink.part(Part::Grant(NamedGrant {
                grant,
                company_name,
            }))?;
        }
        if key.is_none() {
            return Ok(());
        }
    }
}

async fn receipts(
    store: &Store,
    person: &PersonId,
    page: u64,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    let mut key = None;
    loop {
        let rows = store.receipts_of_person(person, after(&key), page).await?;
        key = next_key(&rows, page, |r| (r.created_at, r.id.clone()));
        for receipt in rows {
            sink.part(Part::Receipt(receipt))?;
        }
        if key.is_none() {
            return Ok(());
        }
    }
}

async fn transfers(
    store: &Store,
    person: &PersonId,
    page: u64,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    let mut key = None;
    loop {
        let rows = store
            .earnings_page(person, after(&key), page)
            .await?
            .transfers;
        key = next_key(&rows, page, |t| (t.created_at, t.id.clone()));
        for transfer in rows {
            sink.part(Part::Transfer(transfer))?;
        }
        if key.is_none() {
            return Ok(());
        }
    }
}

async fn payouts(
    store: &Store,
    person: &PersonId,
    page: u64,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    let mut key = None;
    loop {
        let rows = store.payouts_page(person, after(&key), page).await?;
        key = next_key(&rows, page, |p| (p.created_at, p.id.clone()));
        for payout in rows {
            sink.part(Part::Payout(payout))?;
        }
        if key.is_none() {
            return Ok(());
        }
    }
}

async fn messages(
    store: &Store,
    person: &PersonId,
    page: u64,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    let mut key = None;
    loop {
        let rows = store.messages_to_page(person, after(&key), page).await?;
        key = next_key(&rows, page, |m| (m.created_at, m.id.clone()));
        let ids: Vec<CompanyId> = rows
            .iter()
            .filter_map(|m| CompanyId::parse(&m.company_id).ok())
            .collect();
        let names = crate::company_names(store, ids.iter()).await?;
        for message in rows {
            let company = CompanyId::parse(&message.company_id)
                .map_or_else(|_| message.company_id.clone(), |id| names.of(&id));
            sink.part(Part::Message(crate::messages::Listed { message, company }))?;
        }
        if key.is_none() {
            return Ok(());
        }
    }
}

async fn uses(
    store: &Store,
    person: &PersonId,
    page: u64,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    let mut key = None;
    loop {
        let rows = store.uses_of_person_page(person, after(&key), page).await?;
        key = next_key(&rows, page, |u| (u.created_at, u.id.clone()));
        let names = crate::company_names(store, rows.iter().map(|u| &u.company_id)).await?;
        for reported in rows {
            let company_name = names.of(&reported.company_id);
            sink.part(Part::Use(NamedUse {
                reported,
                company_name,
            }))?;
        }
        if key.is_none() {
            return Ok(());
        }
    }
}

/// The person's entries below the checkpoint's tree size, each proved
/// against it.
async fn activity(
    store: &Store,
    person: &PersonId,
    checkpoint: Checkpoint,
    page: u64,
    sink: &mut impl ExportSink,
) -> Result<(), BrokerError> {
    let mut before = Some(checkpoint.tree_size);
    while let Some(below) = before {
        let found = crate::activity::page(store, person, checkpoint, Some(below), page).await?;
        // An index only falls: a page that does not move on would repeat.
        before = found.next_before.filter(|next| *next < below);
        for entry in found.entries {
            sink.part(Part::Activity(entry))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use consent_policy::{AttributeKey, Bucket, CompanyId};
    use serde_json::json;
    use store::{Handle, store_test};

    use super::*;

    /// Counts the parts of each section and checks the sink's protocol.
    #[derive(Default)]
    struct Tally {
        handle: Option<String>,
        open: Option<Section>,
        seen: Vec<(Section, usize)>,
        request_ids: Vec<String>,
        activity: Vec<u64>,
    }

    impl ExportSink for Tally {
        fn head(&mut self, head: &Head) -> Result<(), BrokerError> {
            assert!(self.handle.is_none(), "one head");
            self.handle = Some(head.person.handle.to_string());
            Ok(())
        }
        fn open(&mut self, section: Section) -> Result<(), BrokerError> {
            assert_eq!(self.open, None, "sections do not nest");
            self.open = Some(section);
            self.seen.push((section, 0));
            Ok(())
        }
        fn part(&mut self, part: Part) -> Result<(), BrokerError> {
            let (section, count) = self.seen.last_mut().expect("a part inside a section");
            assert_eq!(Some(*section), self.open);
            *count += 1;
            match part {
                Part::Request(r) => self.request_ids.push(r.request.id),
                Part::Activity(e) => self.activity.push(e.index),
                _ => {}
            }
            Ok(())
        }
        fn close(&mut self, section: Section) -> Result<(), BrokerError> {
            assert_eq!(self.open.take(), Some(section));
            Ok(())
        }
    }

    impl Tally {
        fn count(&self, section: Section) -> usize {
            self.seen
                .iter()
                .find(|(s, _)| *s == section)
                .map_or(0, |(_, n)| *n)
        }
    }

    store_test!(small_pages_export_every_record_and_entry_once, |store| {
        let person = store
            .create_person(&Handle::parse("grace_hopper").unwrap())
            .await
            .unwrap();
        let email = AttributeKey::parse("email").unwrap();
        store
            .put_attribute(
                &person.id,
                &email,
                &json!("grace@example.org"),
                Bucket::SemiPrivate,
            )
            .await
            .unwrap();
        let company = CompanyId::parse("acme").unwrap();
        store.create_company(&company, "Acme").await.unwrap();
        let handle = person.handle.clone();
        let mut asked = Vec::new();
        for _ in 0..5 {
            let details = json!({"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P30D"});
            let request = crate::ask::ask(
                store,
                &company,
                crate::ask::Person::Handle(&handle),
                details,
                None,
            )
            .await
            .unwrap()
            .unwrap();
            asked.push(request.id);
        }
        crate::answer::decline(store, &person.id, &asked[0])
            .await
            .unwrap();
        // Three grants, each with a reported use: two pages of each. (No
        // receipts here: the server installs their signer.)
        let used = crate::uses::UseReport::parse("used", None, "sent a newsletter").unwrap();
        for id in &asked[1..4] {
            let grant = crate::answer::approve_all(store, &person.id, id)
                .await
                .unwrap();
            crate::uses::report(store, &company, &grant.id, &used)
                .await
                .unwrap();
        }
        crate::block::block(store, &person.id, &company)
            .await
            .unwrap();
        let size = store.ledger_size().await.unwrap();
        let checkpoint = Checkpoint {
            tree_size: size,
            root_hash: store.ledger_root(size).await.unwrap(),
        };
        // Appended after the checkpoint: in the blocked list (the state
        // now), not in the activity (cut at the checkpoint).
        let globex = CompanyId::parse("globex").unwrap();
        store.create_company(&globex, "Globex").await.unwrap();
        crate::block::block(store, &person.id, &globex)
            .await
            .unwrap();

        let mut tally = Tally::default();
        export_paged(store, &person.id, checkpoint, 2, &mut tally)
            .await
            .unwrap();

        assert_eq!(tally.handle.as_deref(), Some("grace_hopper"));
        let order: Vec<Section> = tally.seen.iter().map(|(s, _)| *s).collect();
        assert_eq!(order, Section::ALL);
        assert_eq!(tally.count(Section::Attributes), 1);
        assert_eq!(tally.count(Section::Blocked), 2);
        assert_eq!(tally.count(Section::Grants), 3);
        assert_eq!(tally.count(Section::Uses), 3);
        let mut exported = tally.request_ids.clone();
        exported.sort();
        asked.sort();
        assert_eq!(exported, asked, "five requests over three pages, each once");
        let everything = crate::activity::page(store, &person.id, checkpoint, Some(size), 100)
            .await
            .unwrap();
        let indices: Vec<u64> = everything.entries.iter().map(|e| e.index).collect();
        assert!(indices.len() > 6, "{indices:?}");
        assert_eq!(
            tally.activity, indices,
            "every entry below the checkpoint, once"
        );
        assert!(tally.activity.iter().all(|i| *i < size));
    });
}
