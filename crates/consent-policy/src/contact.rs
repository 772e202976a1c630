//! Contact preferences: the channels a company may use to reach a person,
//! the hours of the day it may (in the person's IANA time zone), and how
//! often. A value of this type can only hold valid preferences
//! ([`ContactPreferences::parse`]).
//!
//! # Hours
//!
//! `hours_from`..`hours_to` is a half-open range of local wall-clock
//! minutes: 09:00–18:00 allows 09:00 up to 17:59. A range whose end is
//! before its start wraps midnight (22:00–07:00 is the night). Both ends
//! or neither: no hours means any time of day. Equal ends are refused (an
//! empty range, or every hour: say so by giving none).
//!
//! [`ContactPreferences::is_within_hours`] reads the wall clock of the
//! instant in the person's zone. [`ContactPreferences::next_within_hours`]
//! is the first instant at or after a given one that is within the hours.
//! Open stretches start either where the wall clock reaches `hours_from`
//! (once a day, twice on a day the clocks go back, possibly never on a day
//! they skip it) or where a time-zone transition jumps the clock into the
//! range, so those are the only candidates it looks at. The time-zone
//! database is compiled in (`jiff`'s bundled tzdb): no file or network is
//! read at run time, and every server agrees.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Most contacts a week a person can allow.
pub const MAX_CONTACTS_PER_WEEK: u32 = 100;
/// Longest time-zone name accepted (the longest IANA name is 32 bytes).
pub const MAX_TIME_ZONE_LEN: usize = 64;

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

/// An IANA time zone (`Europe/Paris`), checked against the compiled-in
/// database. JSON: its name. The default is `UTC`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContactTimeZone {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl ContactTimeZone {
    /// The zone named `name` (case as in the database, e.g. `America/New_York`).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        if name.is_empty()
            || name.len() > MAX_TIME_ZONE_LEN
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        {
            return None;
        }
        let zone = jiff::tz::TimeZone::get(name).ok()?;
        let name = zone.iana_name().unwrap_or(name).to_owned();
        Some(Self { name, zone })
    }

    /// `UTC`.
    #[must_use]
    pub fn utc() -> Self {
        Self {
            name: "UTC".to_owned(),
            zone: jiff::tz::TimeZone::UTC,
        }
    }

    /// Its IANA name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The wall clock at `at` in this zone, as minutes since midnight.
    fn minute_of_day(&self, at: jiff::Timestamp) -> u16 {
        let local = self.zone.to_datetime(at);
        // hour() is 0..=23 and minute() 0..=59: the product fits.
        u16::try_from(local.hour()).unwrap_or(0) * 60 + u16::try_from(local.minute()).unwrap_or(0)
    }
}

impl Default for ContactTimeZone {
    fn default() -> Self {
        Self::utc()
    }
}

impl PartialEq for ContactTimeZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ContactTimeZone {}

impl fmt::Debug for ContactTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ContactTimeZone").field(&self.name).finish()
    }
}

impl TryFrom<String> for ContactTimeZone {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        Self::parse(&name).ok_or_else(|| format!("{name:?} is not an IANA time zone"))
    }
}

impl From<ContactTimeZone> for String {
    fn from(zone: ContactTimeZone) -> Self {
        zone.name
    }
}

/// How companies may contact a person. JSON:
/// `{"channels": ["email"], "hours_from": "09:00", "hours_to": "18:00",
/// "time_zone": "Europe/Paris", "max_per_week": 2}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawContact")]
pub struct ContactPreferences {
    /// The channels companies may use; none means no contact at all.
    pub channels: Vec<ContactChannel>,
    /// From when in the day (with `hours_to`, or both `None`).
    pub hours_from: Option<TimeOfDay>,
    /// Until when in the day, exclusive.
    pub hours_to: Option<TimeOfDay>,
    /// The zone the hours are read in.
    pub time_zone: ContactTimeZone,
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
    time_zone: Option<String>,
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
            raw.time_zone.as_deref(),
            raw.max_per_week,
        )
    }
}

/// Preferences that cannot be kept, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ContactError {
    /// The field, as in the JSON (`channels`, `hours_from`, `hours_to`,
    /// `time_zone`, `max_per_week`).
    pub field: &'static str,
    /// What is wrong, in words.
    pub detail: String,
}

impl ContactPreferences {
    /// Checks preferences given as text, reporting the first problem in
    /// field order. Channels named twice count once; no time zone is UTC.
    ///
    /// # Errors
    /// An unknown channel, a time that is not `HH:MM`, one end of the
    /// hours without the other or both equal, a name that is not an IANA
    /// time zone, or more than [`MAX_CONTACTS_PER_WEEK`] a week.
    pub fn parse<S: AsRef<str>>(
        channels: &[S],
        hours_from: Option<&str>,
        hours_to: Option<&str>,
        time_zone: Option<&str>,
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
        match (hours_from, hours_to) {
            (Some(_), None) => {
                return Err(ContactError {
                    field: "hours_to",
                    detail: "give both ends of the hours, or neither".to_owned(),
                });
            }
            (None, Some(_)) => {
                return Err(ContactError {
                    field: "hours_from",
                    detail: "give both ends of the hours, or neither".to_owned(),
                });
            }
            (Some(from), Some(to)) if from == to => {
                return Err(ContactError {
                    field: "hours_to",
                    detail: "the hours end where they start; for any time give none".to_owned(),
                });
            }
            _ => {}
        }
        let time_zone = match time_zone {
            None => ContactTimeZone::utc(),
            Some(name) => ContactTimeZone::parse(name).ok_or_else(|| ContactError {
                field: "time_zone",
                detail: format!("{name:?} is not an IANA time zone such as \"Europe/Paris\""),
            })?,
        };
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
            time_zone,
            max_per_week,
        })
    }

    /// Whether companies may contact the person at all: a channel and a
    /// cap above zero.
    #[must_use]
    pub fn allows_contact(&self) -> bool {
        !self.channels.is_empty() && self.max_per_week != Some(0)
    }

    /// Whether `at` falls inside the hours, read on the person's wall clock.
    #[must_use]
    pub fn is_within_hours(&self, at: OffsetDateTime) -> bool {
        match to_timestamp(at) {
            Some(at) => self.within(at),
            None => false,
        }
    }

    fn within(&self, at: jiff::Timestamp) -> bool {
        let (Some(from), Some(to)) = (self.hours_from, self.hours_to) else {
            return true;
        };
        let minute = self.time_zone.minute_of_day(at);
        if from < to {
            from.minutes() <= minute && minute < to.minutes()
        } else {
            minute >= from.minutes() || minute < to.minutes()
        }
    }

    /// The first instant at or after `at` inside the hours (`at` itself
    /// when it is inside); `None` only at the ends of the representable
    /// years. Found within three days: every day holds an open stretch
    /// except, at most, the one a transition skips.
    #[must_use]
    pub fn next_within_hours(&self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        let start = to_timestamp(at)?;
        if self.within(start) {
            return Some(at);
        }
        let from = self.hours_from?;
        let zone = &self.time_zone.zone;
        let today = zone.to_datetime(start).date();
        let limit = start
            .checked_add(jiff::SignedDuration::from_hours(72))
            .ok()?;
        let wall = jiff::civil::Time::new(
            i8::try_from(from.minutes() / 60).ok()?,
            i8::try_from(from.minutes() % 60).ok()?,
            0,
            0,
        )
        .ok()?;
        let mut candidates = Vec::with_capacity(12);
        for days in -1..=3 {
            let Ok(day) = today.checked_add(jiff::Span::new().days(days)) else {
                continue;
            };
            let ambiguous = zone.to_ambiguous_timestamp(day.to_datetime(wall));
            candidates.extend(ambiguous.earlier().ok());
            candidates.extend(ambiguous.later().ok());
        }
        candidates.extend(
            zone.following(start)
                .map(|t| t.timestamp())
                .take_while(|t| *t <= limit),
        );
        let next = candidates
            .into_iter()
            .filter(|t| *t > start && self.within(*t))
            .min()?;
        OffsetDateTime::from_unix_timestamp_nanos(next.as_nanosecond()).ok()
    }
}

fn to_timestamp(at: OffsetDateTime) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_nanosecond(at.unix_timestamp_nanos()).ok()
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
        let err =
            ContactPreferences::parse(&["email", "pigeon"], None, None, None, None).unwrap_err();
        assert_eq!(err.field, "channels");
        assert!(err.detail.contains("pigeon") && err.detail.contains("email, sms"));
        let err =
            ContactPreferences::parse(&["email"], Some("25:00"), None, None, None).unwrap_err();
        assert_eq!(err.field, "hours_from");
        let err = ContactPreferences::parse::<&str>(&[], None, Some("x"), None, None).unwrap_err();
        assert_eq!(err.field, "hours_to");
        let err = ContactPreferences::parse::<&str>(&[], None, None, None, Some(101)).unwrap_err();
        assert_eq!(err.field, "max_per_week");
        assert!(ContactPreferences::parse::<&str>(&[], None, None, None, Some(100)).is_ok());
        for (from, to, field) in [
            (Some("09:00"), None, "hours_to"),
            (None, Some("09:00"), "hours_from"),
            (Some("09:00"), Some("09:00"), "hours_to"),
        ] {
            let err = ContactPreferences::parse(&["email"], from, to, None, None).unwrap_err();
            assert_eq!(err.field, field, "{from:?} {to:?}");
        }
        for zone in [
            "Mars/Olympus",
            "",
            "Europe/Paris\n",
            "../../etc/passwd",
            "Europe/Paris ",
        ] {
            let err =
                ContactPreferences::parse(&["email"], None, None, Some(zone), None).unwrap_err();
            assert_eq!(err.field, "time_zone", "{zone:?}");
        }
    }

    #[test]
    fn the_json_is_the_wire_shape_and_is_checked_on_the_way_in() {
        let prefs = ContactPreferences::parse(
            &["sms", "email", "sms"],
            Some("09:00"),
            Some("18:00"),
            Some("Europe/Paris"),
            Some(2),
        )
        .unwrap();
        let json = serde_json::to_value(&prefs).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"channels": ["sms", "email"], "hours_from": "09:00",
                               "hours_to": "18:00", "time_zone": "Europe/Paris",
                               "max_per_week": 2})
        );
        let old = serde_json::json!({"channels": ["email"], "max_per_week": 1});
        let old: ContactPreferences = serde_json::from_value(old).unwrap();
        assert_eq!(old.time_zone.name(), "UTC", "stored before zones: UTC");
        assert_eq!(
            serde_json::from_value::<ContactPreferences>(json).unwrap(),
            prefs
        );
        for bad in [
            serde_json::json!({"channels": ["fax"]}),
            serde_json::json!({"channels": [], "hours_from": "7am"}),
            serde_json::json!({"channels": [], "spam": true}),
            serde_json::json!({"channels": [], "max_per_week": 1000}),
            serde_json::json!({"channels": [], "max_per_week": -1}),
            serde_json::json!({"channels": [], "time_zone": "Nowhere/City"}),
            serde_json::json!({"channels": [], "hours_from": "09:00"}),
        ] {
            assert!(serde_json::from_value::<ContactPreferences>(bad).is_err());
        }
    }

    fn prefs(from: &str, to: &str, zone: &str) -> ContactPreferences {
        ContactPreferences::parse(&["email"], Some(from), Some(to), Some(zone), None).unwrap()
    }

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn hours_are_read_on_the_persons_wall_clock() {
        let paris = prefs("09:00", "18:00", "Europe/Paris");
        // 08:30 UTC in December is 09:30 in Paris.
        assert!(paris.is_within_hours(at("2026-12-07T08:30:00Z")));
        assert!(!paris.is_within_hours(at("2026-12-07T07:59:59Z")));
        assert!(
            !paris.is_within_hours(at("2026-12-07T17:00:00Z")),
            "18:00 is out"
        );
        assert_eq!(
            paris.next_within_hours(at("2026-12-07T17:00:00Z")),
            Some(at("2026-12-08T08:00:00Z"))
        );
        let anytime = ContactPreferences::parse(&["email"], None, None, None, None).unwrap();
        assert!(anytime.is_within_hours(at("2026-12-07T03:00:00Z")));
        assert_eq!(
            anytime.next_within_hours(at("2026-12-07T03:00:00Z")),
            Some(at("2026-12-07T03:00:00Z"))
        );
    }

    #[test]
    fn hours_that_wrap_midnight_are_the_night() {
        let night = prefs("22:00", "07:00", "UTC");
        assert!(night.is_within_hours(at("2026-12-07T23:30:00Z")));
        assert!(night.is_within_hours(at("2026-12-08T06:59:00Z")));
        assert!(!night.is_within_hours(at("2026-12-08T07:00:00Z")));
        assert_eq!(
            night.next_within_hours(at("2026-12-08T07:00:00Z")),
            Some(at("2026-12-08T22:00:00Z"))
        );
    }

    #[test]
    fn a_start_the_clocks_skip_opens_when_they_jump() {
        // New York springs forward on 2026-03-08: 02:00 EST becomes 03:00
        // EDT, so 02:30 never happens; the hours open at the jump.
        let ny = prefs("02:30", "05:00", "America/New_York");
        assert_eq!(
            ny.next_within_hours(at("2026-03-08T05:00:00Z")),
            Some(at("2026-03-08T07:00:00Z")),
            "03:00 EDT"
        );
        // On 2026-11-01 01:00-02:00 happens twice; 01:30 opens the first time.
        let fall = prefs("01:30", "01:45", "America/New_York");
        assert_eq!(
            fall.next_within_hours(at("2026-11-01T04:00:00Z")),
            Some(at("2026-11-01T05:30:00Z"))
        );
        assert_eq!(
            fall.next_within_hours(at("2026-11-01T05:45:00Z")),
            Some(at("2026-11-01T06:30:00Z")),
            "and again an hour later"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const ZONES: [&str; 8] = [
            "UTC",
            "Europe/Paris",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "Pacific/Chatham",
            "America/St_Johns",
            "Europe/London",
        ];

        fn hours() -> impl Strategy<Value = (u16, u16)> {
            (0u16..1440, 1u16..1440).prop_map(|(from, len)| (from, (from + len) % 1440))
        }

        fn text(minutes: u16) -> String {
            format!("{:02}:{:02}", minutes / 60, minutes % 60)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]

            /// The next allowed instant is inside the hours, not before
            /// `at`, within three days, and no whole minute between the two
            /// is inside them (so it is the first), across DST changes:
            /// instants span 2026-2027.
            #[test]
            fn the_next_time_is_the_first_time_inside_the_hours(
                zone in 0usize..ZONES.len(),
                (from, to) in hours(),
                seconds in 1_767_225_600i64..1_830_297_600,
            ) {
                let prefs = prefs(&text(from), &text(to), ZONES[zone]);
                let start = OffsetDateTime::from_unix_timestamp(seconds).unwrap();
                let next = prefs.next_within_hours(start).unwrap();
                prop_assert!(next >= start);
                prop_assert!(prefs.is_within_hours(next));
                prop_assert!(next - start <= time::Duration::days(3));
                if next > start {
                    prop_assert!(!prefs.is_within_hours(start));
                    let mut minute = start.unix_timestamp().div_euclid(60) * 60 + 60;
                    while minute < next.unix_timestamp() {
                        let probe = OffsetDateTime::from_unix_timestamp(minute).unwrap();
                        prop_assert!(!prefs.is_within_hours(probe), "{probe} is inside before {next}");
                        minute += 60;
                    }
                }
            }

            /// Inside the hours means the wall clock's minute is in the
            /// half-open range, wrapping midnight when it ends before it starts.
            #[test]
            fn inside_the_hours_is_the_wall_clock_range(
                zone in 0usize..ZONES.len(),
                (from, to) in hours(),
                seconds in 1_767_225_600i64..1_830_297_600,
            ) {
                let prefs = prefs(&text(from), &text(to), ZONES[zone]);
                let instant = OffsetDateTime::from_unix_timestamp(seconds).unwrap();
                let tz = jiff::tz::TimeZone::get(ZONES[zone]).unwrap();
                let local = tz.to_datetime(jiff::Timestamp::from_second(seconds).unwrap());
                let minute = u16::try_from(local.hour()).unwrap() * 60
                    + u16::try_from(local.minute()).unwrap();
                let expected = if from < to {
                    (from..to).contains(&minute)
                } else {
                    minute >= from || minute < to
                };
                prop_assert_eq!(prefs.is_within_hours(instant), expected);
            }
        }
    }
}
