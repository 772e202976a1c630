//! What one read under a live grant may disclose, decided again at the
//! moment of the read.
//!
//! A grant is the person's consent as it was when they gave it. A read
//! happens later, under the person's policy as it is now. Three later
//! changes take an attribute back from a live grant, from the very next
//! read: blocking the company, moving the attribute to the private bucket,
//! and a rule that now denies it. The sharing default does not: the grant
//! is an explicit answer, and the default only covers what no answer and
//! no rule does (so switching to "share nothing" stops *new* sharing, while
//! revoking is how a person ends a grant).
//!
//! ```
//! use consent_policy::{AttributeKey, Bucket, CompanyId, DataRequest, GrantDuration, Profile,
//!     Purpose, Withheld, what_a_read_discloses};
//!
//! let email = AttributeKey::parse("email").unwrap();
//! let city = AttributeKey::parse("location_city").unwrap();
//! let granted = DataRequest::new(vec![email.clone(), city.clone()], Purpose::ServiceProvision,
//!     GrantDuration::parse("P30D").unwrap(), None).unwrap();
//! let mut profile = Profile::default();
//! profile.buckets.insert(email.clone(), Bucket::Private); // moved after the grant
//! let acme = CompanyId::parse("acme").unwrap();
//! let read = what_a_read_discloses(&profile, &acme, &granted, |_| true);
//! assert_eq!(read.disclosed, [city]);
//! assert!(matches!(read.withheld[0], (ref k, Withheld::Policy(_)) if *k == email));
//! ```

use crate::attribute::AttributeKey;
use crate::company::CompanyId;
use crate::decision::{Decision, Outcome, Reason, decide};
use crate::profile::Profile;
use crate::request::DataRequest;

/// Why a granted attribute did not leave on this read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// The person has no value for it now.
    NoValue,
    /// The person's policy now denies it: a block, the private bucket, or
    /// a rule (never the default; see the module docs).
    Policy(Reason),
}

/// The answer for one read: what leaves, and what does not and why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadDecision {
    /// Granted attributes that leave now, in the grant's order.
    pub disclosed: Vec<AttributeKey>,
    /// Granted attributes that do not, in the grant's order.
    pub withheld: Vec<(AttributeKey, Withheld)>,
}

impl ReadDecision {
    /// The attributes the policy withholds now (not those without a value).
    pub fn withheld_by_policy(&self) -> impl Iterator<Item = &AttributeKey> + '_ {
        self.withheld
            .iter()
            .filter(|(_, why)| matches!(why, Withheld::Policy(_)))
            .map(|(key, _)| key)
    }
}

/// Decides what a read under `granted` (the grant as a request: its
/// attributes, purpose, duration and price) discloses to `company` under
/// the person's `profile` now. `has_value` says whether the person holds a
/// value for a key. Pure; every disclosed key is granted, has a value and
/// is not denied by a block, the private bucket or a rule.
#[must_use]
pub fn what_a_read_discloses(
    profile: &Profile,
    company: &CompanyId,
    granted: &DataRequest,
    has_value: impl Fn(&AttributeKey) -> bool,
) -> ReadDecision {
    let decision = decide(profile, company, granted);
    let mut read = ReadDecision::default();
    for d in decision.attributes() {
        let taken_back = d.outcome == Outcome::Deny
            && matches!(
                d.reason,
                Reason::Blocked | Reason::PrivateBucket | Reason::Rule { .. }
            );
        if taken_back {
            read.withheld
                .push((d.key.clone(), Withheld::Policy(d.reason)));
        } else if has_value(&d.key) {
            read.disclosed.push(d.key.clone());
        } else {
            read.withheld.push((d.key.clone(), Withheld::NoValue));
        }
    }
    read
}

/// What a person's approval may grant now: the attributes the policy left
/// to them when the request arrived (`at_arrival` did not deny them) and
/// that their policy does not take back now (a block, the private bucket
/// or a rule that denies, as for a read). In the request's order.
#[must_use]
pub fn grantable_now(
    at_arrival: &Decision,
    profile: &Profile,
    company: &CompanyId,
    request: &DataRequest,
) -> Vec<AttributeKey> {
    let now = what_a_read_discloses(profile, company, request, |_| true);
    at_arrival
        .attributes()
        .iter()
        .filter(|d| d.outcome != Outcome::Deny && now.disclosed.contains(&d.key))
        .map(|d| d.key.clone())
        .collect()
}
