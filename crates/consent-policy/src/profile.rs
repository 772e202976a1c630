//! Profiles: the person's side of a decision, as a value.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::attribute::AttributeKey;
use crate::bucket::{Bucket, SharingDefault};
use crate::company::CompanyId;
use crate::decision::{Decision, decide};
use crate::duration::GrantDuration;
use crate::request::DataRequest;
use crate::rule::{MAX_RULES_PER_PERSON, Rule};

/// The most attributes one person may record.
pub const MAX_ATTRIBUTES_PER_PERSON: usize = 256;

/// The most companies one person may block.
pub const MAX_BLOCKED_PER_PERSON: usize = 1_000;

/// Everything about a person that decisions depend on.
///
/// JSON: `{"default": "ask_me", "buckets": {"email": "public"}, "rules": [Rule, ...],
/// "blocked": ["spamco"], "max_duration": "P1Y"}`; a missing field takes the
/// value of [`Profile::default`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// What happens when no rule matches.
    pub default: SharingDefault,
    /// The attributes the person has recorded and their buckets; an attribute
    /// not recorded here is judged in its catalogue default bucket.
    pub buckets: BTreeMap<AttributeKey, Bucket>,
    /// Standing decisions, in order; the first that matches an attribute wins.
    pub rules: Vec<Rule>,
    /// Companies refused everything, before any rule.
    pub blocked: BTreeSet<CompanyId>,
    /// The longest grant the person accepts at all.
    pub max_duration: GrantDuration,
}

/// A profile beyond one of its bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// More than [`MAX_RULES_PER_PERSON`] rules.
    #[error("a person may keep at most {max} rules")]
    TooManyRules {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_ATTRIBUTES_PER_PERSON`] attributes.
    #[error("a person may record at most {max} attributes")]
    TooManyAttributes {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_BLOCKED_PER_PERSON`] blocked companies.
    #[error("a person may block at most {max} companies")]
    TooManyBlocked {
        /// The limit.
        max: usize,
    },
}

impl Default for Profile {
    /// A new person: ask me, nothing recorded, no rules, no blocks, grants up to a year.
    fn default() -> Self {
        Self {
            default: SharingDefault::default(),
            buckets: BTreeMap::new(),
            rules: Vec::new(),
            blocked: BTreeSet::new(),
            max_duration: GrantDuration::one_year(),
        }
    }
}

impl Profile {
    /// The bucket `key` is judged in: the person's choice, else the catalogue default.
    #[must_use]
    pub fn bucket_of(&self, key: &AttributeKey) -> Bucket {
        self.buckets
            .get(key)
            .copied()
            .unwrap_or_else(|| key.default_bucket())
    }

    /// Whether `company` is blocked.
    #[must_use]
    pub fn is_blocked(&self, company: &CompanyId) -> bool {
        self.blocked.contains(company)
    }

    /// What `company` may have from `request`; see [`decide`].
    #[must_use]
    pub fn decide(&self, company: &CompanyId, request: &DataRequest) -> Decision {
        decide(self, company, request)
    }

    /// Appends a rule at the end (lowest priority).
    ///
    /// # Errors
    /// [`ProfileError::TooManyRules`] when the person already has the most allowed.
    pub fn push_rule(&mut self, rule: Rule) -> Result<(), ProfileError> {
        if self.rules.len() >= MAX_RULES_PER_PERSON {
            return Err(ProfileError::TooManyRules {
                max: MAX_RULES_PER_PERSON,
            });
        }
        self.rules.push(rule);
        Ok(())
    }

    /// Checks the bounds on rules, recorded attributes and blocked companies.
    ///
    /// # Errors
    /// The first [`ProfileError`] found.
    pub fn check_bounds(&self) -> Result<(), ProfileError> {
        if self.rules.len() > MAX_RULES_PER_PERSON {
            return Err(ProfileError::TooManyRules {
                max: MAX_RULES_PER_PERSON,
            });
        }
        if self.buckets.len() > MAX_ATTRIBUTES_PER_PERSON {
            return Err(ProfileError::TooManyAttributes {
                max: MAX_ATTRIBUTES_PER_PERSON,
            });
        }
        if self.blocked.len() > MAX_BLOCKED_PER_PERSON {
            return Err(ProfileError::TooManyBlocked {
                max: MAX_BLOCKED_PER_PERSON,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{AttributeMatch, CompanyMatch, Effect, PurposeMatch};

    #[test]
    fn new_person_asks_and_accepts_a_year() {
        let profile = Profile::default();
        assert_eq!(profile.default, SharingDefault::AskMe);
        assert_eq!(profile.max_duration.as_str(), "P1Y");
        assert_eq!(profile.check_bounds(), Ok(()));
    }

    #[test]
    fn unrecorded_attributes_use_the_catalogue_bucket() {
        let mut profile = Profile::default();
        let email = AttributeKey::parse("email").unwrap();
        assert_eq!(profile.bucket_of(&email), Bucket::SemiPrivate);
        profile.buckets.insert(email.clone(), Bucket::Public);
        assert_eq!(profile.bucket_of(&email), Bucket::Public);
        let pets = AttributeKey::parse("x-pets").unwrap();
        assert_eq!(profile.bucket_of(&pets), Bucket::Private);
    }

    #[test]
    fn rules_are_bounded() {
        let mut profile = Profile::default();
        let rule = Rule::new(
            CompanyMatch::Any,
            PurposeMatch::Any,
            AttributeMatch::Any,
            Effect::Ask,
        );
        for _ in 0..MAX_RULES_PER_PERSON {
            profile.push_rule(rule.clone()).unwrap();
        }
        assert_eq!(
            profile.push_rule(rule.clone()),
            Err(ProfileError::TooManyRules {
                max: MAX_RULES_PER_PERSON
            })
        );
        profile.rules.push(rule);
        assert!(profile.check_bounds().is_err());
    }

    #[test]
    fn missing_profile_fields_take_the_defaults() {
        assert_eq!(
            serde_json::from_str::<Profile>("{}").unwrap(),
            Profile::default()
        );
        let profile: Profile = serde_json::from_str(r#"{"default": "share_nothing"}"#).unwrap();
        assert_eq!(profile.default, SharingDefault::ShareNothing);
        assert!(serde_json::from_str::<Profile>(r#"{"defaults": "ask_me"}"#).is_err());
    }

    #[test]
    fn profile_round_trips_through_json() {
        let mut profile = Profile::default();
        profile
            .buckets
            .insert(AttributeKey::parse("x-pets").unwrap(), Bucket::Public);
        profile.blocked.insert(CompanyId::parse("spamco").unwrap());
        profile.rules.push(Rule::new(
            CompanyMatch::Any,
            PurposeMatch::Any,
            AttributeMatch::Bucket(Bucket::SemiPrivate),
            Effect::Allow,
        ));
        let json = serde_json::to_string(&profile).unwrap();
        assert_eq!(serde_json::from_str::<Profile>(&json).unwrap(), profile);
    }
}
