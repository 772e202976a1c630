//! Pairwise subject identifiers: one per (company, person), unlinkable across companies.

use std::fmt;

use consent_policy::CompanyId;
use hmac::Mac;
use serde::{Deserialize, Serialize};

use crate::server_key::{PAIRWISE_SUBJECT_LABEL, ServerKey};

/// Bytes of the HMAC kept: 128 bits, so collisions among one company's
/// people are out of reach (birthday bound 2^64) and the text stays short.
const SUBJECT_BYTES: usize = 16;

/// The identifier a company sees for a person: 22 base64url characters,
/// `base64url(HMAC-SHA256(subject key, company || 0x00 || person)[..16])`.
///
/// The same company and person always give the same subject; without the
/// server key, subjects given to two companies cannot be linked. Company ids
/// are printable ASCII, so the `0x00` separator makes the input unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PairwiseSubject(String);

impl PairwiseSubject {
    /// The subject of `person_id` for `company`.
    #[must_use]
    pub fn derive(server_key: &ServerKey, company: &CompanyId, person_id: &str) -> Self {
        let mac = server_key
            .derive(PAIRWISE_SUBJECT_LABEL)
            .mac()
            .chain_update(company.as_str().as_bytes())
            .chain_update([0_u8])
            .chain_update(person_id.as_bytes())
            .finalize()
            .into_bytes();
        Self(crate::b64url_encode(&mac[..SUBJECT_BYTES]))
    }

    /// The subject as text (the `sub` claim).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PairwiseSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn company(s: &str) -> CompanyId {
        CompanyId::parse(s).unwrap()
    }

    #[test]
    fn subject_is_short_base64url_and_depends_on_the_key() {
        let key = ServerKey::from_bytes([3; 32]);
        let s = PairwiseSubject::derive(&key, &company("acme"), "p1");
        assert_eq!(s.as_str().len(), 22);
        assert!(crate::b64url_decode(s.as_str()).is_some());
        assert_ne!(
            s,
            PairwiseSubject::derive(&ServerKey::from_bytes([4; 32]), &company("acme"), "p1")
        );
    }

    #[test]
    fn separator_keeps_boundaries_apart() {
        let key = ServerKey::from_bytes([3; 32]);
        assert_ne!(
            PairwiseSubject::derive(&key, &company("acme"), "1p"),
            PairwiseSubject::derive(&key, &company("acme1"), "p"),
        );
    }

    proptest! {
        #[test]
        fn same_inputs_same_subject_other_company_other_subject(
            a in "[a-z]{1,12}", b in "[a-z]{1,12}", person in "[a-z0-9-]{1,36}", other in "[a-z0-9-]{1,36}",
        ) {
            let key = ServerKey::from_bytes([3; 32]);
            let s = PairwiseSubject::derive(&key, &company(&a), &person);
            prop_assert_eq!(&s, &PairwiseSubject::derive(&key, &company(&a), &person));
            if a != b {
                prop_assert_ne!(&s, &PairwiseSubject::derive(&key, &company(&b), &person));
            }
            if person != other {
                prop_assert_ne!(&s, &PairwiseSubject::derive(&key, &company(&a), &other));
            }
        }
    }
}
