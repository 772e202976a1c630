//! Buckets, the person's sharing default, and the table that joins them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::decision::Outcome;

/// How far an attribute may travel: the person puts each attribute in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Never leaves: a request for it is refused, whatever the rules say.
    Private,
    /// Leaves only with the person's consent or a standing rule.
    SemiPrivate,
    /// May leave without asking, unless the default is share nothing.
    Public,
}

impl Bucket {
    /// Every bucket, from most to least protected.
    pub const ALL: [Self; 3] = [Self::Private, Self::SemiPrivate, Self::Public];

    /// The wire name (`private`, `semi_private`, `public`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::SemiPrivate => "semi_private",
            Self::Public => "public",
        }
    }

    /// The name shown to people (`private`, `semi-private`, `public`).
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::SemiPrivate => "semi-private",
            Self::Public => "public",
        }
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The preset a person picks for requests no rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SharingDefault {
    /// Public and semi-private data leave without asking.
    ShareEverything,
    /// Public data leaves; semi-private data waits for the person.
    AskMe,
    /// Nothing leaves without a rule or the person's approval.
    ShareNothing,
}

impl SharingDefault {
    /// Every default, from most to least open.
    pub const ALL: [Self; 3] = [Self::ShareEverything, Self::AskMe, Self::ShareNothing];

    /// The outcome this default gives an attribute in `bucket` (DESIGN's default table).
    #[must_use]
    pub const fn outcome(self, bucket: Bucket) -> Outcome {
        match (bucket, self) {
            (Bucket::Private, _) | (_, Self::ShareNothing) => Outcome::Deny,
            (Bucket::Public, Self::ShareEverything | Self::AskMe)
            | (Bucket::SemiPrivate, Self::ShareEverything) => Outcome::Allow,
            (Bucket::SemiPrivate, Self::AskMe) => Outcome::Ask,
        }
    }

    /// The wire name (`share_everything`, `ask_me`, `share_nothing`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ShareEverything => "share_everything",
            Self::AskMe => "ask_me",
            Self::ShareNothing => "share_nothing",
        }
    }

    /// The name shown to people (`share everything`, `ask me`, `share nothing`).
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::ShareEverything => "share everything",
            Self::AskMe => "ask me",
            Self::ShareNothing => "share nothing",
        }
    }
}

impl Default for SharingDefault {
    /// A new person is asked about anything that is not public.
    fn default() -> Self {
        Self::AskMe
    }
}

impl fmt::Display for SharingDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_defaults_serialise_in_snake_case() {
        let names: Vec<String> = Bucket::ALL
            .iter()
            .map(|b| serde_json::to_string(b).unwrap())
            .collect();
        assert_eq!(names, [r#""private""#, r#""semi_private""#, r#""public""#]);
        let names: Vec<String> = SharingDefault::ALL
            .iter()
            .map(|d| serde_json::to_string(d).unwrap())
            .collect();
        assert_eq!(
            names,
            [r#""share_everything""#, r#""ask_me""#, r#""share_nothing""#]
        );
        for bucket in Bucket::ALL {
            assert_eq!(
                serde_json::to_string(&bucket).unwrap(),
                format!("\"{bucket}\"")
            );
        }
    }

    #[test]
    fn unknown_bucket_name_is_rejected() {
        assert!(serde_json::from_str::<Bucket>(r#""semi-private""#).is_err());
        assert!(serde_json::from_str::<SharingDefault>(r#""AskMe""#).is_err());
    }
}
