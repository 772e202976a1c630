//! Attribute keys: the catalogue of known facts about a person, and custom `x-` keys.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::bucket::Bucket;

/// The most attributes one request may name.
pub const MAX_ATTRIBUTES_PER_REQUEST: usize = 64;

/// The longest attribute key, in bytes (custom keys are `x-` plus at most 60 characters).
pub const MAX_ATTRIBUTE_KEY_LEN: usize = 64;

/// The longest part after `x-` in a custom key.
pub const MAX_CUSTOM_SUFFIX_LEN: usize = 60;

/// What an attribute's value looks like; the store and server validate values with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueShape {
    /// An email address.
    Email,
    /// A telephone number (E.164 expected).
    Phone,
    /// A calendar date (`YYYY-MM-DD`).
    Date,
    /// A short piece of text.
    Text,
    /// A list of short texts.
    TextList,
    /// A postal address object.
    PostalAddress,
    /// A whole number.
    Integer,
    /// Any JSON value.
    Json,
}

/// One entry of the catalogue: a well-known attribute and its defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// The key as it appears on the wire.
    pub key: &'static str,
    /// A short lower-case name for pages ("email address").
    pub label: &'static str,
    /// The bucket an attribute gets until the person moves it.
    pub default_bucket: Bucket,
    /// What its value looks like.
    pub shape: ValueShape,
}

const fn entry(
    key: &'static str,
    label: &'static str,
    default_bucket: Bucket,
    shape: ValueShape,
) -> CatalogueEntry {
    CatalogueEntry {
        key,
        label,
        default_bucket,
        shape,
    }
}

/// The catalogue, sorted by key so that index order is string order.
static CATALOGUE: [CatalogueEntry; 12] = [
    entry(
        "birth_date",
        "date of birth",
        Bucket::Private,
        ValueShape::Date,
    ),
    entry(
        "display_name",
        "display name",
        Bucket::Public,
        ValueShape::Text,
    ),
    entry(
        "email",
        "email address",
        Bucket::SemiPrivate,
        ValueShape::Email,
    ),
    entry("gender", "gender", Bucket::Private, ValueShape::Text),
    entry(
        "household_size",
        "household size",
        Bucket::SemiPrivate,
        ValueShape::Integer,
    ),
    entry(
        "interests",
        "interests",
        Bucket::Public,
        ValueShape::TextList,
    ),
    entry("language", "language", Bucket::Public, ValueShape::Text),
    entry(
        "location_city",
        "city",
        Bucket::SemiPrivate,
        ValueShape::Text,
    ),
    entry(
        "occupation",
        "occupation",
        Bucket::SemiPrivate,
        ValueShape::Text,
    ),
    entry(
        "phone",
        "phone number",
        Bucket::SemiPrivate,
        ValueShape::Phone,
    ),
    entry(
        "postal_address",
        "postal address",
        Bucket::Private,
        ValueShape::PostalAddress,
    ),
    entry(
        "purchase_history",
        "purchase history",
        Bucket::Private,
        ValueShape::Json,
    ),
];

/// The catalogue of well-known attributes, in key order.
#[must_use]
pub fn catalogue_entries() -> &'static [CatalogueEntry] {
    &CATALOGUE
}

/// The name of one fact about a person: a catalogue key or a custom `x-` key.
///
/// Only valid keys can be built (through [`AttributeKey::parse`], `FromStr`,
/// `TryFrom<String>` or serde). Keys order as their strings do.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttributeKey(Repr);

/// A catalogue key is its index. A custom key shares its text, so cloning a
/// key (once per requested attribute in every decision) never allocates, and
/// carries the first eight bytes after `x-` as a big-endian number, so most
/// comparisons (several per bucket lookup) are one integer comparison.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Catalogue(u8),
    Custom { head: u64, text: Arc<str> },
}

impl Repr {
    fn custom(text: &str) -> Self {
        let mut head = [0_u8; 8];
        let suffix = &text.as_bytes()[2..];
        let n = suffix.len().min(8);
        head[..n].copy_from_slice(&suffix[..n]);
        Self::Custom {
            head: u64::from_be_bytes(head),
            text: Arc::from(text),
        }
    }
}

/// The order of the key strings: the catalogue is sorted and every catalogue
/// key sorts before `x-`, so catalogue keys compare by index and come first.
/// Custom keys hold no NUL byte, so zero-padded heads order as their texts do.
impl Ord for Repr {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Catalogue(a), Self::Catalogue(b)) => a.cmp(b),
            (Self::Catalogue(_), Self::Custom { .. }) => Ordering::Less,
            (Self::Custom { .. }, Self::Catalogue(_)) => Ordering::Greater,
            (Self::Custom { head: a, text: x }, Self::Custom { head: b, text: y }) => {
                a.cmp(b).then_with(|| x.as_bytes().cmp(y.as_bytes()))
            }
        }
    }
}

impl PartialOrd for Repr {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Why a text is not an attribute key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` is not an attribute key: {problem}")]
pub struct AttributeKeyError {
    /// The rejected text.
    pub key: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl AttributeKey {
    /// Parses a catalogue key (`email`) or a custom key (`x-shoe-size`).
    ///
    /// # Errors
    /// [`AttributeKeyError`] when the text is neither.
    pub fn parse(text: &str) -> Result<Self, AttributeKeyError> {
        if let Some(index) = CATALOGUE.iter().position(|e| e.key == text) {
            let index = u8::try_from(index).expect("the catalogue has fewer than 256 entries");
            return Ok(Self(Repr::Catalogue(index)));
        }
        let fail = |problem| {
            Err(AttributeKeyError {
                key: text.to_owned(),
                problem,
            })
        };
        let Some(suffix) = text.strip_prefix("x-") else {
            return fail("not in the catalogue, and custom keys start with `x-`");
        };
        if suffix.is_empty() || suffix.len() > MAX_CUSTOM_SUFFIX_LEN {
            return fail("a custom key has 1 to 60 characters after `x-`");
        }
        if !suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return fail("a custom key uses only a-z, 0-9 and `-`");
        }
        if suffix.starts_with('-') || suffix.ends_with('-') || suffix.contains("--") {
            return fail("a custom key has no leading, trailing or double `-`");
        }
        debug_assert!(text.len() <= MAX_ATTRIBUTE_KEY_LEN);
        Ok(Self(Repr::custom(text)))
    }

    /// Every catalogue key, in key order.
    pub fn catalogue() -> impl ExactSizeIterator<Item = Self> + Clone {
        (0..CATALOGUE.len()).map(|i| {
            Self(Repr::Catalogue(
                u8::try_from(i).expect("the catalogue has fewer than 256 entries"),
            ))
        })
    }

    /// The key as it appears on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Catalogue(i) => CATALOGUE[usize::from(*i)].key,
            Repr::Custom { text, .. } => text,
        }
    }

    /// Whether this is a person's own `x-` key rather than a catalogue key.
    #[must_use]
    pub const fn is_custom(&self) -> bool {
        matches!(self.0, Repr::Custom { .. })
    }

    /// The catalogue entry, or `None` for a custom key.
    #[must_use]
    pub fn catalogue_entry(&self) -> Option<&'static CatalogueEntry> {
        match self.0 {
            Repr::Catalogue(i) => Some(&CATALOGUE[usize::from(i)]),
            Repr::Custom { .. } => None,
        }
    }

    /// The bucket until the person moves it: the catalogue's, or `private` for custom keys.
    #[must_use]
    pub fn default_bucket(&self) -> Bucket {
        self.catalogue_entry()
            .map_or(Bucket::Private, |e| e.default_bucket)
    }

    /// What the value looks like: the catalogue's shape, or any JSON for custom keys.
    #[must_use]
    pub fn shape(&self) -> ValueShape {
        self.catalogue_entry().map_or(ValueShape::Json, |e| e.shape)
    }

    /// A short lower-case name for pages; a custom key is shown as itself.
    #[must_use]
    pub fn label(&self) -> &str {
        self.catalogue_entry().map_or(self.as_str(), |e| e.label)
    }
}

impl fmt::Display for AttributeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AttributeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttributeKey({:?})", self.as_str())
    }
}

impl FromStr for AttributeKey {
    type Err = AttributeKeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for AttributeKey {
    type Error = AttributeKeyError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<AttributeKey> for String {
    fn from(key: AttributeKey) -> Self {
        key.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> AttributeKey {
        AttributeKey::parse(text).unwrap()
    }

    #[test]
    fn catalogue_keys_have_their_documented_bucket_and_shape() {
        let expected = [
            ("email", Bucket::SemiPrivate, ValueShape::Email),
            ("phone", Bucket::SemiPrivate, ValueShape::Phone),
            ("postal_address", Bucket::Private, ValueShape::PostalAddress),
            ("birth_date", Bucket::Private, ValueShape::Date),
            ("display_name", Bucket::Public, ValueShape::Text),
            ("interests", Bucket::Public, ValueShape::TextList),
            ("location_city", Bucket::SemiPrivate, ValueShape::Text),
            ("purchase_history", Bucket::Private, ValueShape::Json),
            ("household_size", Bucket::SemiPrivate, ValueShape::Integer),
            ("language", Bucket::Public, ValueShape::Text),
            ("gender", Bucket::Private, ValueShape::Text),
            ("occupation", Bucket::SemiPrivate, ValueShape::Text),
        ];
        assert_eq!(AttributeKey::catalogue().len(), expected.len());
        for (text, bucket, shape) in expected {
            let k = key(text);
            assert_eq!(k.as_str(), text);
            assert!(!k.is_custom(), "{text}");
            assert_eq!(k.default_bucket(), bucket, "{text}");
            assert_eq!(k.shape(), shape, "{text}");
        }
    }

    #[test]
    fn key_order_is_string_order() {
        let mut keys: Vec<AttributeKey> = AttributeKey::catalogue().collect();
        for text in [
            "x-a",
            "x-zz",
            "x-9",
            "x-a-b",
            "x-custom-3",
            "x-custom-30",
            "x-custom-3a",
            "x-custom-4",
            "x-abcdefgh",
            "x-abcdefghi",
            "x-abcdefgh-1",
            "x-abcdefg",
        ] {
            keys.push(key(text));
        }
        let mut by_string = keys.clone();
        by_string.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        keys.sort();
        assert_eq!(keys, by_string);
    }

    #[test]
    fn custom_keys_are_private_json_by_default() {
        let k = key("x-shoe-size");
        assert!(k.is_custom());
        assert_eq!(k.default_bucket(), Bucket::Private);
        assert_eq!(k.shape(), ValueShape::Json);
        assert_eq!(k.label(), "x-shoe-size");
        assert_eq!(k.to_string(), "x-shoe-size");
    }

    #[test]
    fn valid_custom_keys_parse() {
        for text in ["x-a", "x-0", "x-shoe-size", "x-a1-b2-c3", "x-email"] {
            assert_eq!(key(text).as_str(), text);
        }
        let longest = format!("x-{}", "a".repeat(60));
        assert_eq!(key(&longest).as_str().len(), 62);
    }

    #[test]
    fn invalid_keys_are_rejected() {
        let too_long = format!("x-{}", "a".repeat(61));
        for text in [
            "",
            "Email",
            "e-mail",
            "emails",
            " email",
            "x-",
            "x",
            "X-foo",
            "x-Foo",
            "x-foo_bar",
            "x-foo-",
            "x--foo",
            "x-foo--bar",
            "x-foo bar",
            "x-é",
            "y-foo",
            too_long.as_str(),
        ] {
            assert!(AttributeKey::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn serde_goes_through_parse() {
        let k: AttributeKey = serde_json::from_str(r#""x-pets""#).unwrap();
        assert_eq!(k, key("x-pets"));
        assert_eq!(serde_json::to_string(&k).unwrap(), r#""x-pets""#);
        assert!(serde_json::from_str::<AttributeKey>(r#""pets""#).is_err());
    }
}
