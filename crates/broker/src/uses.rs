//! A company reports what it did with a grant's data (issue #21: "whether
//! it is sold directly or aggregated"). Whether the grant's purpose covers
//! the kind is `consent_policy::purpose_covers`; a use it does not cover is
//! refused **and recorded**, in the same transaction, so the person sees
//! the attempt in their activity and an auditor in the log.

use consent_policy::{CompanyId, UseKind, purpose_covers};
use store::{Store, StoredUse, UseRecord};

use crate::BrokerError;

/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;
/// Longest recipient, in characters.
pub const MAX_RECIPIENT_CHARS: usize = 256;

/// A report as the company sent it, checked: a known kind, a note of 1 to
/// [`MAX_NOTE_CHARS`] characters, a recipient of 1 to
/// [`MAX_RECIPIENT_CHARS`] if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseReport {
    kind: UseKind,
    recipient: Option<String>,
    note: String,
}

impl UseReport {
    /// Checks each field; the error names the first bad one.
    ///
    /// # Errors
    /// [`BrokerError::Invalid`] naming `kind`, `note` or `recipient`.
    pub fn parse(kind: &str, recipient: Option<&str>, note: &str) -> Result<Self, BrokerError> {
        let kind = UseKind::parse(kind).map_err(|e| BrokerError::Invalid {
            field: "kind",
            detail: e.to_string(),
        })?;
        let note = bounded("note", note, MAX_NOTE_CHARS)?;
        let recipient = recipient
            .map(|r| bounded("recipient", r, MAX_RECIPIENT_CHARS))
            .transpose()?;
        Ok(UseReport {
            kind,
            recipient,
            note,
        })
    }

    /// The kind reported.
    #[must_use]
    pub fn kind(&self) -> UseKind {
        self.kind
    }
}

fn bounded(field: &'static str, text: &str, max_chars: usize) -> Result<String, BrokerError> {
    let trimmed = text.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > max_chars {
        return Err(BrokerError::Invalid {
            field,
            detail: format!("`{field}` is 1 to {max_chars} characters"),
        });
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err(BrokerError::Invalid {
            field,
            detail: format!("`{field}` holds a control character"),
        });
    }
    Ok(trimmed.to_owned())
}

/// Records `report` on `company`'s live grant `grant_id`. A kind the grant's
/// purpose does not cover is recorded with `accepted: false` and answered
/// [`BrokerError::UseNotCovered`] after the commit. Another company's grant
/// is not found; a revoked or expired one is refused, recording nothing.
pub async fn report(
    store: &Store,
    company: &CompanyId,
    grant_id: &str,
    report: &UseReport,
) -> Result<StoredUse, BrokerError> {
    let tx = store.begin().await?;
    let grant = tx.company_grant(company, grant_id).await?;
    if !grant.is_live(time::OffsetDateTime::now_utc()) {
        return Err(store::StoreError::GrantNotLive(grant_id.to_owned()).into());
    }
    let accepted = purpose_covers(grant.purpose, report.kind);
    let recorded = tx
        .record_use(
            &grant,
            UseRecord {
                kind: report.kind,
                recipient: report.recipient.as_deref(),
                note: &report.note,
                accepted,
            },
        )
        .await?;
    tx.commit().await?;
    if !accepted {
        return Err(BrokerError::UseNotCovered {
            kind: report.kind,
            purpose: grant.purpose,
        });
    }
    Ok(recorded)
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
        assert_eq!(
            field(UseReport::parse("stolen", None, "n").unwrap_err()),
            "kind"
        );
        assert_eq!(
            field(UseReport::parse("used", None, "  ").unwrap_err()),
            "note"
        );
        let long = "x".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            field(UseReport::parse("used", None, &long).unwrap_err()),
            "note"
        );
        assert_eq!(
            field(UseReport::parse("shared", Some(""), "n").unwrap_err()),
            "recipient"
        );
        assert_eq!(
            field(UseReport::parse("used", None, "a\u{0}b").unwrap_err()),
            "note"
        );
    }

    #[test]
    fn a_good_report_keeps_its_words() {
        let ok = UseReport::parse("sold", Some(" Data Broker Ltd "), "sold the list").unwrap();
        assert_eq!(ok.kind(), UseKind::Sold);
        assert_eq!(ok.recipient.as_deref(), Some("Data Broker Ltd"));
        let note = "é".repeat(MAX_NOTE_CHARS);
        assert!(UseReport::parse("used", None, &note).is_ok());
    }
}
