//! `GET /v1/me/export`: everything apiome holds about the signed-in person
//! as one JSON document (GDPR Art. 15 and 20), downloaded as a file.
//!
//! `broker::export` reads and pages; this adapter writes each part as it
//! arrives, in the same shapes as the `/v1/me/...` lists, straight into
//! the response body: the export is held once, as text. Nothing of it is
//! logged.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use broker::BrokerError;
use broker::export::{ExportSink, Head, Part, Section};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::ledger_signer;
use crate::problem::Problem;
use crate::routes::activity::ActivityItem;
use crate::routes::inbox::{GrantView, InboxRequest};
use crate::routes::me::{AttributeView, BlockedView, Contact, RuleView};
use crate::routes::money::{EarningsBalanceView, PaymentView};
use crate::routes::notifications::NotificationSettings;
use crate::routes::payouts::PayoutView;
use crate::routes::receipts::ReceiptView;
use crate::routes::session::PasskeyView;
use crate::startup::AppState;

/// Who the export is about.
#[derive(Serialize, ToSchema)]
pub struct ExportPerson {
    /// The pseudonym the ledger names them by (their id in the log).
    pub id: String,
    /// Their handle.
    pub handle: String,
    /// Sign-up time.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// What happens where no rule speaks.
    #[schema(value_type = super::schema::SharingDefaultName)]
    pub default: consent_policy::SharingDefault,
    /// The longest grant they accept (ISO 8601 duration).
    #[schema(value_type = super::schema::IsoDuration)]
    pub max_duration: String,
    /// Whether the operator suspended the account.
    pub suspended: bool,
}

/// How companies may contact the person, and where apiome tells them.
#[derive(Serialize, ToSchema)]
pub struct ExportPreferences {
    /// Channels, hours and weekly cap for companies (`null` when never set).
    pub contact: Option<Contact>,
    /// Where and about what apiome mails them.
    pub notifications: NotificationSettings,
}

/// The signed checkpoint the activity is proved against.
#[derive(Serialize, ToSchema)]
pub struct ExportCheckpoint {
    /// Its tree size: every entry of `activity` has a lower index.
    pub tree_size: u64,
    /// Its root hash, base64.
    pub root_hash: String,
    /// The C2SP signed note, byte for byte: verify it with the key of
    /// `/v1/ledger/public-key`.
    pub note: String,
}

/// Earnings: balances and every payment.
#[derive(Serialize, ToSchema)]
pub struct ExportEarnings {
    /// One per currency.
    pub balances: Vec<EarningsBalanceView>,
    /// Every payment offered or made, newest first.
    pub transfers: Vec<PaymentView>,
}

/// A use a company reported of the person's data.
#[derive(Serialize, ToSchema)]
pub struct ExportUse {
    /// Its id.
    pub id: String,
    /// The grant.
    pub grant_id: String,
    /// The reporting company.
    pub company_id: String,
    /// Its name.
    pub company_name: String,
    /// `used`, `sold`, `aggregated` or `shared`.
    pub kind: &'static str,
    /// Who received the data, in the company's words.
    pub recipient: Option<String>,
    /// What the company did, in its words.
    pub note: String,
    /// Whether the grant's purpose covers it (a refused report is kept).
    pub accepted: bool,
    /// When it was reported.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

/// One ledger entry about the person, with the bytes its proof covers.
#[derive(Serialize, ToSchema)]
pub struct ExportActivity {
    /// The entry as `/v1/me/activity` shows it, its proof against
    /// `checkpoint`.
    #[serde(flatten)]
    pub entry: ActivityItem,
    /// The entry's stored bytes, base64: hash them (RFC 9162 leaf) to
    /// check `leaf_hash` without trusting it.
    pub leaf: String,
}

/// Everything apiome holds about a person.
#[derive(ToSchema)]
#[schema(example = json!({
    "format": "apiome-export/1",
    "exported_at": "2026-12-07T22:00:00Z",
    "person": {
        "id": "p_7Hq2nX4kLm9RtY1s",
        "handle": "ada",
        "created_at": "2026-11-02T08:14:03Z",
        "default": "ask_me",
        "max_duration": "P1Y",
        "suspended": false
    },
    "preferences": {
        "contact": {"channels": ["email"], "hours_from": "09:00", "hours_to": "18:00", "max_per_week": 2},
        "notifications": {
            "address": "ada@example.org",
            "verified": true,
            "kinds": {"request_waiting": true, "expiring": true, "first_use": false},
            "digest": false
        }
    },
    "checkpoint": {
        "tree_size": 42,
        "root_hash": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "note": "apiome.example/log\n42\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— apiome.example/log AbCdEf==\n"
    },
    "attributes": [
        {"key": "location_city", "value": "Lyon", "bucket": "semi_private", "updated_at": "2026-12-07T17:17:54Z"}
    ],
    "rules": [],
    "blocked": [{"company_id": "c_Zx81LmQe4RtY7uIo2PaS9d", "name": "Spamco"}],
    "requests": [],
    "grants": [],
    "receipts": [],
    "earnings": {"balances": [], "transfers": []},
    "payouts": [],
    "uses": [],
    "messages": [],
    "passkeys": [],
    "activity": []
}))]
pub struct ExportDocument {
    /// `apiome-export/1`.
    #[schema(example = "apiome-export/1")]
    pub format: String,
    /// When the export was made.
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: String,
    /// Who.
    pub person: ExportPerson,
    /// Contact and notification preferences.
    pub preferences: ExportPreferences,
    /// The checkpoint `activity` is proved against.
    pub checkpoint: ExportCheckpoint,
    /// Every attribute, by key, with its value and bucket.
    pub attributes: Vec<AttributeView>,
    /// The standing rules, in the order they apply.
    pub rules: Vec<RuleView>,
    /// The blocked companies.
    pub blocked: Vec<BlockedView>,
    /// Every request sent to the person, any state, newest first.
    pub requests: Vec<InboxRequest>,
    /// Every grant, live, revoked or expired, newest first.
    pub grants: Vec<GrantView>,
    /// Every signed consent receipt, newest first.
    pub receipts: Vec<ReceiptView>,
    /// Balances and payments.
    pub earnings: ExportEarnings,
    /// Every payout, destinations masked, newest first.
    pub payouts: Vec<PayoutView>,
    /// Every use companies reported, newest first.
    pub uses: Vec<ExportUse>,
    /// Every message companies sent through the relay, delivered or
    /// refused, newest first.
    pub messages: Vec<crate::routes::messages::MessageView>,
    /// Passkeys: names and times, never key material.
    pub passkeys: Vec<PasskeyView>,
    /// Every ledger entry naming the person up to `checkpoint`, newest
    /// first, each with its inclusion proof.
    pub activity: Vec<ExportActivity>,
}

/// Writes the document as the broker hands over its parts.
struct JsonExport {
    out: Vec<u8>,
    note: String,
    first: bool,
}

/// A part that cannot be rendered stops the export; its words stay out of
/// the error (they could hold a value).
fn unrenderable(_: impl std::fmt::Debug) -> BrokerError {
    BrokerError::Internal("an export record could not be rendered".to_owned())
}

fn rfc3339(at: time::OffsetDateTime) -> Result<String, BrokerError> {
    at.format(&time::format_description::well_known::Rfc3339)
        .map_err(unrenderable)
}

impl JsonExport {
    fn raw(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }

    fn value(&mut self, value: &impl Serialize) -> Result<(), BrokerError> {
        serde_json::to_writer(&mut self.out, value).map_err(unrenderable)
    }

    fn field(&mut self, name: &str, value: &impl Serialize) -> Result<(), BrokerError> {
        self.raw(&format!(",\"{name}\":"));
        self.value(value)
    }
}

impl ExportSink for JsonExport {
    fn head(&mut self, head: &Head) -> Result<(), BrokerError> {
        let person = &head.person;
        self.raw("{\"format\":");
        self.value(&broker::export::EXPORT_FORMAT)?;
        self.field("exported_at", &rfc3339(head.exported_at)?)?;
        self.field(
            "person",
            &ExportPerson {
                id: person.pseudonym.clone(),
                handle: person.handle.to_string(),
                created_at: person.created_at,
                default: person.sharing_default,
                max_duration: person.max_duration.to_string(),
                suspended: person.suspended,
            },
        )?;
        self.field(
            "preferences",
            &ExportPreferences {
                contact: crate::routes::me::preferences_of(person).contact,
                notifications: NotificationSettings::of(head.notifications.as_ref()),
            },
        )?;
        let note = std::mem::take(&mut self.note);
        self.field(
            "checkpoint",
            &ExportCheckpoint {
                tree_size: head.checkpoint.tree_size,
                root_hash: BASE64.encode(head.checkpoint.root_hash),
                note,
            },
        )
    }

    fn open(&mut self, section: Section) -> Result<(), BrokerError> {
        self.first = true;
        self.raw(match section {
            Section::Attributes => ",\"attributes\":[",
            Section::Rules => ",\"rules\":[",
            Section::Blocked => ",\"blocked\":[",
            Section::Requests => ",\"requests\":[",
            Section::Grants => ",\"grants\":[",
            Section::Receipts => ",\"receipts\":[",
            Section::Balances => ",\"earnings\":{\"balances\":[",
            Section::Transfers => ",\"transfers\":[",
            Section::Payouts => ",\"payouts\":[",
            Section::Uses => ",\"uses\":[",
            Section::Messages => ",\"messages\":[",
            Section::Passkeys => ",\"passkeys\":[",
            Section::Activity => ",\"activity\":[",
        });
        Ok(())
    }

    fn part(&mut self, part: Part) -> Result<(), BrokerError> {
        if !std::mem::take(&mut self.first) {
            self.raw(",");
        }
        match part {
            Part::Attribute(a) => self.value(&AttributeView::from(a)),
            Part::Rule(r) => self.value(&RuleView::from(r)),
            Part::Blocked(id, name) => self.value(&BlockedView {
                name: name.unwrap_or_else(|| id.to_string()),
                company_id: id.to_string(),
            }),
            Part::Request(r) => self.value(
                &crate::routes::inbox::view(r.request, r.company_name).map_err(unrenderable)?,
            ),
            Part::Grant(g) => {
                self.value(&crate::routes::inbox::grant_view(g.grant, g.company_name))
            }
            Part::Receipt(r) => {
                self.value(&crate::routes::receipts::view(r).map_err(unrenderable)?)
            }
            Part::Balance(b) => self.value(&crate::routes::money::balance_view(b)),
            Part::Transfer(t) => self.value(&crate::routes::money::payment_view(t)),
            Part::Payout(p) => self.value(&crate::routes::payouts::view(p)),
            Part::Use(u) => self.value(&ExportUse {
                company_id: u.reported.company_id.to_string(),
                company_name: u.company_name,
                kind: u.reported.kind.as_str(),
                id: u.reported.id,
                grant_id: u.reported.grant_id,
                recipient: u.reported.recipient,
                note: u.reported.note,
                accepted: u.reported.accepted,
                created_at: u.reported.created_at,
            }),
            Part::Message(m) => self.value(&crate::routes::messages::MessageView::from(m)),
            Part::Passkey(p) => self.value(&PasskeyView::from(p)),
            Part::Activity(e) => {
                let leaf = BASE64.encode(&e.leaf);
                self.value(&ExportActivity {
                    entry: crate::routes::activity::item(e),
                    leaf,
                })
            }
        }
    }

    fn close(&mut self, section: Section) -> Result<(), BrokerError> {
        self.raw(match section {
            Section::Transfers => "]}",
            _ => "]",
        });
        Ok(())
    }
}

/// Download everything apiome holds about the person
///
/// One JSON document (`format: apiome-export/1`, GDPR Art. 15 and 20):
/// the person, their preferences, attributes with values and buckets,
/// rules, blocks, every request, grant and signed receipt, earnings and
/// payments, payouts (masked), the uses companies reported, passkeys
/// (names only) and every ledger entry naming them with its inclusion
/// proof against the signed checkpoint included. Nothing is left out for
/// size. Sent as a file (`Content-Disposition: attachment`), never cached.
#[utoipa::path(
    operation_id = "export_get",
    tag = "people",
    responses(
        (status = 200, description = "The export, as a file to save", body = ExportDocument,
            headers(
                ("Content-Disposition" = String, description = "`attachment; filename=\"apiome-export-YYYY-MM-DD.json\"`"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/export")]
pub async fn export(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, Problem> {
    let signed = ledger_signer::current_checkpoint(&state.store, &state.ledger).await?;
    let checkpoint = broker::activity::Checkpoint {
        tree_size: signed.tree_size,
        root_hash: signed.root_hash,
    };
    let mut sink = JsonExport {
        out: Vec::new(),
        note: signed.note,
        first: true,
    };
    broker::export::person_export(&state.store, &who.person, checkpoint, &mut sink).await?;
    sink.raw("}");
    let date = time::OffsetDateTime::now_utc().date();
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"apiome-export-{date}.json\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(sink.out))
}
