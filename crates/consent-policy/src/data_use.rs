//! Downstream use: what a company says it did with a grant's data, and
//! whether the grant's purpose covers it.
//!
//! | kind \ purpose | service_provision | personalisation | marketing | analytics | research | fraud_prevention | legal_obligation | resale |
//! |---|---|---|---|---|---|---|---|---|
//! | `used` (by the company itself, for the purpose) | yes | yes | yes | yes | yes | yes | yes | yes |
//! | `aggregated` (into figures about many people) | no | no | no | yes | yes | yes | no | yes |
//! | `shared` (the data itself, to another party) | no | no | no | no | no | no | yes | yes |
//! | `sold` (to another party, for money) | no | no | no | no | no | no | no | yes |
//!
//! Why: `used` is what every grant is for. Aggregation is the work of
//! analytics, research and fraud models; it is refused for the purposes
//! that are about the one person (service, personalisation, marketing).
//! Passing the data itself on is a third party getting it: only `resale`
//! (the seed's "information companies are allowed to sell") and a legal
//! obligation (an authority the law names) cover that, and only `resale`
//! covers selling it.
//!
//! ```
//! use consent_policy::{Purpose, UseKind, purpose_covers};
//! assert!(purpose_covers(Purpose::Resale, UseKind::Sold));
//! assert!(!purpose_covers(Purpose::Marketing, UseKind::Sold));
//! assert!(purpose_covers(Purpose::Marketing, UseKind::Used));
//! ```

use crate::Purpose;

/// What a company did with a grant's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UseKind {
    /// Used it itself, for the grant's purpose.
    Used,
    /// Sold it to another party.
    Sold,
    /// Combined it into figures about many people.
    Aggregated,
    /// Gave the data itself to another party.
    Shared,
}

/// The text is not one of the kinds of use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a kind of use; one of used, sold, aggregated, shared")]
pub struct UnknownUseKind(pub String);

impl UseKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 4] = [Self::Used, Self::Sold, Self::Aggregated, Self::Shared];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Used => "used",
            Self::Sold => "sold",
            Self::Aggregated => "aggregated",
            Self::Shared => "shared",
        }
    }

    /// Reads a wire name.
    ///
    /// # Errors
    /// [`UnknownUseKind`] for any other text.
    pub fn parse(text: &str) -> Result<Self, UnknownUseKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| UnknownUseKind(text.to_owned()))
    }
}

impl std::fmt::Display for UseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a grant for `purpose` covers a use of `kind` (the table above).
#[must_use]
pub const fn purpose_covers(purpose: Purpose, kind: UseKind) -> bool {
    use Purpose as P;
    match kind {
        UseKind::Used => true,
        UseKind::Aggregated => matches!(
            purpose,
            P::Analytics | P::Research | P::FraudPrevention | P::Resale
        ),
        UseKind::Shared => matches!(purpose, P::LegalObligation | P::Resale),
        UseKind::Sold => matches!(purpose, P::Resale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of the module documentation, row by row, in `Purpose::ALL` order.
    const TABLE: [(UseKind, [bool; 8]); 4] = [
        (
            UseKind::Used,
            [true, true, true, true, true, true, true, true],
        ),
        (
            UseKind::Aggregated,
            [false, false, false, true, true, true, false, true],
        ),
        (
            UseKind::Shared,
            [false, false, false, false, false, false, true, true],
        ),
        (
            UseKind::Sold,
            [false, false, false, false, false, false, false, true],
        ),
    ];

    #[test]
    fn every_cell_is_as_documented() {
        for (kind, row) in TABLE {
            for (purpose, expected) in Purpose::ALL.into_iter().zip(row) {
                assert_eq!(
                    purpose_covers(purpose, kind),
                    expected,
                    "{} under {}",
                    kind.as_str(),
                    purpose.as_str()
                );
            }
        }
    }

    #[test]
    fn only_resale_covers_selling_and_resale_covers_everything() {
        for purpose in Purpose::ALL {
            assert_eq!(
                purpose_covers(purpose, UseKind::Sold),
                purpose == Purpose::Resale
            );
        }
        assert!(
            UseKind::ALL
                .into_iter()
                .all(|k| purpose_covers(Purpose::Resale, k))
        );
    }

    #[test]
    fn a_wider_kind_is_never_covered_where_a_narrower_is_not() {
        // sold ⊂ shared ⊂ used, aggregated ⊂ used: a purpose covering the
        // wider act covers the narrower one.
        for purpose in Purpose::ALL {
            let covers = |k| purpose_covers(purpose, k);
            assert!(!covers(UseKind::Sold) || covers(UseKind::Shared));
            assert!(!covers(UseKind::Shared) || covers(UseKind::Used));
            assert!(!covers(UseKind::Aggregated) || covers(UseKind::Used));
        }
    }

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for kind in UseKind::ALL {
            assert_eq!(UseKind::parse(kind.as_str()), Ok(kind));
        }
        assert_eq!(
            UseKind::parse("Sold"),
            Err(UnknownUseKind("Sold".to_owned()))
        );
        assert!(UseKind::parse("").is_err());
    }
}
