//! Contact preferences: the channels a company may use to reach a person,
//! the hours of the day it may, and how often. A value of this type can
//! only hold valid preferences ([`ContactPreferences::parse`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Most contacts a week a person can allow.
pub const MAX_CONTACTS_PER_WEEK: u32 = 100;

/// A way to reach a person. JSON: `"email"`, `"sms"`, `"phone"`, `"post"`, `"app"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactChannel {
    /// Email.
    Email,
    /// Text message.
    Sms,
    /// A phone call.
    Phone,
    /// Letters.
    Post,
    /// A notification in the company's app.
    App,
}

impl ContactChannel {
    /// Every channel, in the order pages list them.
    pub const ALL: [Self; 5] = [Self::Email, Self::Sms, Self::Phone, Self::Post, Self::App];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Phone => "phone",
            Self::Post => "post",
            Self::App => "app",
        }
    }

    /// The channel with this wire name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// A time of day, `HH:MM` on the wire (the person's local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay {
    minutes: u16,
}

impl TimeOfDay {
    /// Parses `HH:MM` (00:00 to 23:59).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 5 || bytes[2] != b':' || !text.is_char_boundary(2) {
            return None;
        }
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let (hours, minutes) = (&text[..2], &text[3..]);
        if !digits(hours) || !digits(minutes) {
            return None;
        }
        let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
        (hours < 24 && minutes < 60).then_some(Self {
            minutes: hours * 60 + minutes,
        })
    }

    /// Minutes since midnight.
    #[must_use]
    pub const fn minutes(self) -> u16 {
        self.minutes
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("{text:?} is not a time of day HH:MM"))
    }
}

impl From<TimeOfDay> for String {
    fn from(time: TimeOfDay) -> Self {
        time.to_string()
    }
}

/// How companies may contact a person. JSON:
/// `{"channels": ["email"], "hours_from": "09:00", "hours_to": "18:00", "max_per_week": 2}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawContact")]
pub struct ContactPreferences {
    /// The channels companies may use; none means no contact at all.
    pub channels: Vec<ContactChannel>,
    /// From when in the day.
    pub hours_from: Option<TimeOfDay>,
    /// Until when in the day.
    pub hours_to: Option<TimeOfDay>,
    /// At most this many contacts a week (0 = never).
    pub max_per_week: Option<u32>,
}

/// The wire shape before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContact {
    channels: Vec<String>,
    #[serde(default)]
    hours_from: Option<String>,
    #[serde(default)]
    hours_to: Option<String>,
    #[serde(default)]
    max_per_week: Option<u32>,
}

impl TryFrom<RawContact> for ContactPreferences {
    type Error = ContactError;
    fn try_from(raw: RawContact) -> Result<Self, ContactError> {
        Self::parse(
            &raw.channels,
            raw.hours_from.as_deref(),
            raw.hours_to.as_deref(),
            raw.max_per_week,
        )
    }
}

/// Preferences that cannot be kept, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ContactError {
    /// The field, as in the JSON (`channels`, `hours_from`, `hours_to`, `max_per_week`).
    pub field: &'static str,
    /// What is wrong, in words.
    pub detail: String,
}

impl ContactPreferences {
    /// Checks preferences given as text, reporting the first problem in
    /// field order. Channels named twice count once.
    ///
    /// # Errors
    /// An unknown channel, a time that is not `HH:MM`, or more than
    /// [`MAX_CONTACTS_PER_WEEK`] a week.
    pub fn parse<S: AsRef<str>>(
        channels: &[S],
        hours_from: Option<&str>,
        hours_to: Option<&str>,
        max_per_week: Option<u32>,
    ) -> Result<Self, ContactError> {
        let mut parsed = Vec::with_capacity(channels.len());
        for channel in channels {
            let channel = channel.as_ref();
            let known = ContactChannel::parse(channel).ok_or_else(|| ContactError {
                field: "channels",
                detail: format!(
                    "unknown channel {channel:?}; use {}",
                    ContactChannel::ALL.map(ContactChannel::as_str).join(", ")
                ),
            })?;
            if !parsed.contains(&known) {
                parsed.push(known);
            }
        }
        let time = |field: &'static str, text: Option<&str>| {
            text.map(|t| {
                TimeOfDay::parse(t).ok_or_else(|| ContactError {
                    field,
                    detail: format!("{t:?} is not a time of day HH:MM"),
                })
            })
            .transpose()
        };
        let hours_from = time("hours_from", hours_from)?;
        let hours_to = time("hours_to", hours_to)?;
        if max_per_week.is_some_and(|n| n > MAX_CONTACTS_PER_WEEK) {
            return Err(ContactError {
                field: "max_per_week",
                detail: format!("at most {MAX_CONTACTS_PER_WEEK} a week"),
            });
        }
        Ok(Self {
            channels: parsed,
            hours_from,
            hours_to,
            max_per_week,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_exactly_hh_mm() {
        for (text, minutes) in [("00:00", 0), ("09:30", 570), ("23:59", 1439)] {
            let time = TimeOfDay::parse(text).unwrap();
            assert_eq!(time.minutes(), minutes);
            assert_eq!(time.to_string(), text);
        }
        for bad in [
            "24:00",
            "12:60",
            "9:30",
            "09:3",
            "09-30",
            "0a:00",
            "+9:30",
            "",
            "09:30 ",
            "٠٩:٣٠",
        ] {
            assert_eq!(TimeOfDay::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let err = ContactPreferences::parse(&["email", "pigeon"], None, None, None).unwrap_err();
        assert_eq!(err.field, "channels");
        assert!(err.detail.contains("pigeon") && err.detail.contains("email, sms"));
        let err = ContactPreferences::parse(&["email"], Some("25:00"), None, None).unwrap_err();
        assert_eq!(err.field, "hours_from");
        let err = ContactPreferences::parse::<&str>(&[], None, Some("x"), None).unwrap_err();
        assert_eq!(err.field, "hours_to");
        let err = ContactPreferences::parse::<&str>(&[], None, None, Some(101)).unwrap_err();
        assert_eq!(err.field, "max_per_week");
        assert!(ContactPreferences::parse::<&str>(&[], None, None, Some(100)).is_ok());
    }

    #[test]
    fn the_json_is_the_wire_shape_and_is_checked_on_the_way_in() {
        let prefs =
            ContactPreferences::parse(&["sms", "email", "sms"], Some("09:00"), None, Some(2))
                .unwrap();
        let json = serde_json::to_value(&prefs).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"channels": ["sms", "email"], "hours_from": "09:00",
                               "hours_to": null, "max_per_week": 2})
        );
        assert_eq!(
            serde_json::from_value::<ContactPreferences>(json).unwrap(),
            prefs
        );
        for bad in [
            serde_json::json!({"channels": ["fax"]}),
            serde_json::json!({"channels": [], "hours_from": "7am"}),
            serde_json::json!({"channels": [], "spam": true}),
            serde_json::json!({"channels": [], "max_per_week": 1000}),
        ] {
            assert!(serde_json::from_value::<ContactPreferences>(bad).is_err());
        }
    }
}
