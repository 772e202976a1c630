//! Grant durations: a checked subset of ISO 8601 durations, counted in seconds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Seconds in one day.
const DAY_SECS: u64 = 86_400;

/// Seconds in a year, by convention 365 days.
pub const YEAR_SECS: u64 = 365 * DAY_SECS;
/// Seconds in a month, by convention 30 days.
pub const MONTH_SECS: u64 = 30 * DAY_SECS;
/// Seconds in a week.
pub const WEEK_SECS: u64 = 7 * DAY_SECS;

/// The longest grant anyone may ask for: ten years of 365 days.
pub const MAX_GRANT_SECS: u64 = 10 * YEAR_SECS;

/// The longest duration text accepted, in bytes.
pub const MAX_DURATION_TEXT_LEN: usize = 40;

/// Units in the order they must appear, with their length in seconds.
const DATE_UNITS: [(u8, u64, &str); 4] = [
    (b'Y', YEAR_SECS, "year"),
    (b'M', MONTH_SECS, "month"),
    (b'W', WEEK_SECS, "week"),
    (b'D', DAY_SECS, "day"),
];
const TIME_UNITS: [(u8, u64, &str); 3] = [
    (b'H', 3_600, "hour"),
    (b'M', 60, "minute"),
    (b'S', 1, "second"),
];

/// How long a company may keep access to data.
///
/// Accepted text: `P` then any of `nY`, `nM`, `nD` in that order, then
/// optionally `T` and any of `nH`, `nM`, `nS` in that order (`P1Y2M10DT2H30M`);
/// or a week count alone (`P2W`), as ISO 8601 has it. `n` is a run of ASCII
/// digits: no sign, no fraction, upper-case designators only. Lengths are
/// fixed by convention, not by a calendar: a year is 365 days, a month 30 days,
/// a day 86 400 seconds. The total must be more than zero and at most ten years
/// ([`MAX_GRANT_SECS`]). The original text is kept for display.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GrantDuration {
    text: Box<str>,
    secs: u64,
}

/// Why a text is not a grant duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not in the accepted ISO 8601 subset.
    #[error("`{text}` is not an ISO 8601 duration such as P30D or PT12H: {problem}")]
    Malformed {
        /// The rejected text.
        text: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Adds up to nothing.
    #[error("`{text}` is zero; a grant lasts at least one second")]
    Zero {
        /// The rejected text.
        text: String,
    },
    /// Longer than ten years.
    #[error("`{text}` is {secs} s, more than the {max_secs} s (ten years) a grant may last")]
    TooLong {
        /// The rejected text.
        text: String,
        /// Its length in seconds.
        secs: u64,
        /// The limit in seconds.
        max_secs: u64,
    },
}

impl DurationError {
    /// The text that was rejected.
    #[must_use]
    pub fn text(&self) -> &str {
        match self {
            Self::Malformed { text, .. } | Self::Zero { text } | Self::TooLong { text, .. } => text,
        }
    }
}

impl GrantDuration {
    /// Parses an ISO 8601 duration in the accepted subset (see the type's docs).
    ///
    /// # Errors
    /// [`DurationError`] when it is malformed, zero or longer than ten years.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let secs = parse_secs(text).map_err(|problem| DurationError::Malformed {
            text: text.to_owned(),
            problem,
        })?;
        match secs {
            // So large it overflows: report it as the largest count there is.
            None => Err(DurationError::TooLong {
                text: text.to_owned(),
                secs: u64::MAX,
                max_secs: MAX_GRANT_SECS,
            }),
            Some(0) => Err(DurationError::Zero {
                text: text.to_owned(),
            }),
            Some(secs) if secs > MAX_GRANT_SECS => Err(DurationError::TooLong {
                text: text.to_owned(),
                secs,
                max_secs: MAX_GRANT_SECS,
            }),
            Some(secs) => Ok(Self {
                text: text.into(),
                secs,
            }),
        }
    }

    /// A duration of whole days (`PnD`); `None` when zero or over ten years.
    #[must_use]
    pub fn from_days(days: u32) -> Option<Self> {
        Self::parse(&format!("P{days}D")).ok()
    }

    /// A duration of seconds (`PTnS`); `None` when zero or over ten years.
    #[must_use]
    pub fn from_secs(secs: u64) -> Option<Self> {
        Self::parse(&format!("PT{secs}S")).ok()
    }

    /// One year (`P1Y`), the longest grant a new person accepts.
    #[must_use]
    pub fn one_year() -> Self {
        Self {
            text: "P1Y".into(),
            secs: YEAR_SECS,
        }
    }

    /// The length in seconds (years of 365 days, months of 30).
    #[must_use]
    pub const fn as_secs(&self) -> u64 {
        self.secs
    }

    /// The text it was parsed from (`P30D`).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The duration in words for pages (`1 year, 2 months and 10 days`).
    #[must_use]
    pub fn in_words(&self) -> String {
        let mut parts = Vec::new();
        let mut push = |count: u64, unit: &str| {
            if count > 0 {
                let plural = if count == 1 { "" } else { "s" };
                parts.push(format!("{count} {unit}{plural}"));
            }
        };
        let (date, time) = match self.text.split_once('T') {
            Some((date, time)) => (date, time),
            None => (&*self.text, ""),
        };
        for_each_component(date.trim_start_matches('P'), &DATE_UNITS, &mut push);
        for_each_component(time, &TIME_UNITS, &mut push);
        match parts.len() {
            0 => format!("{} seconds", self.secs),
            1 => parts.remove(0),
            n => {
                let last = parts.remove(n - 1);
                format!("{} and {last}", parts.join(", "))
            }
        }
    }
}

/// Calls `f(count, unit name)` for each `<digits><designator>` in an already
/// validated part of a duration.
fn for_each_component(part: &str, units: &[(u8, u64, &str)], f: &mut impl FnMut(u64, &str)) {
    let mut count: u64 = 0;
    for b in part.bytes() {
        if b.is_ascii_digit() {
            count = count.saturating_mul(10).saturating_add(u64::from(b - b'0'));
        } else if let Some((_, _, name)) = units.iter().find(|(d, _, _)| *d == b) {
            f(count, name);
            count = 0;
        }
    }
}

/// The length in seconds, `Ok(None)` when it overflows, or what is malformed.
fn parse_secs(text: &str) -> Result<Option<u64>, &'static str> {
    if text.len() > MAX_DURATION_TEXT_LEN {
        return Err("too long a text");
    }
    let Some(rest) = text.strip_prefix('P') else {
        return Err("it must start with `P`");
    };
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => {
            if time.is_empty() {
                return Err("`T` must be followed by hours, minutes or seconds");
            }
            (date, Some(time))
        }
        None => (rest, None),
    };
    let mut total: Option<u64> = Some(0);
    let mut components = 0;
    let mut week = false;
    for (part, units) in [
        (date, &DATE_UNITS[..]),
        (time.unwrap_or(""), &TIME_UNITS[..]),
    ] {
        let mut next_unit = 0;
        let mut bytes = part.bytes().peekable();
        while bytes.peek().is_some() {
            let mut count: Option<u64> = Some(0);
            let mut digits = 0;
            while let Some(b) = bytes.next_if(u8::is_ascii_digit) {
                digits += 1;
                count = count
                    .and_then(|c| c.checked_mul(10))
                    .and_then(|c| c.checked_add(u64::from(b - b'0')));
            }
            if digits == 0 {
                return Err("each part is a whole number followed by a unit letter");
            }
            let Some(designator) = bytes.next() else {
                return Err("a number must be followed by a unit letter");
            };
            let Some(offset) = units[next_unit..]
                .iter()
                .position(|(d, _, _)| *d == designator)
            else {
                return Err(
                    "units must be Y, M, W or D before T and H, M or S after, largest first, each once",
                );
            };
            let (d, unit_secs, _) = units[next_unit + offset];
            next_unit += offset + 1;
            week |= d == b'W';
            components += 1;
            total = total
                .zip(count)
                .and_then(|(t, c)| c.checked_mul(unit_secs).and_then(|s| t.checked_add(s)));
        }
    }
    if components == 0 {
        return Err("it needs at least one part, such as 30D");
    }
    if week && components > 1 {
        return Err("weeks cannot be combined with other units");
    }
    Ok(total)
}

impl fmt::Display for GrantDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for GrantDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for GrantDuration {
    type Error = DurationError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<GrantDuration> for String {
    fn from(duration: GrantDuration) -> Self {
        duration.text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        GrantDuration::parse(text).unwrap().as_secs()
    }

    #[test]
    fn single_units_use_fixed_conventions() {
        assert_eq!(secs("P1Y"), 365 * 86_400);
        assert_eq!(secs("P1M"), 30 * 86_400);
        assert_eq!(secs("P1W"), 7 * 86_400);
        assert_eq!(secs("P1D"), 86_400);
        assert_eq!(secs("PT1H"), 3_600);
        assert_eq!(secs("PT1M"), 60);
        assert_eq!(secs("PT1S"), 1);
        assert_eq!(secs("P30D"), 2_592_000);
        assert_eq!(secs("P1M"), secs("P30D"));
    }

    #[test]
    fn combinations_add_up() {
        let expected = 365 * 86_400 + 2 * 30 * 86_400 + 10 * 86_400 + 2 * 3_600 + 30 * 60;
        assert_eq!(secs("P1Y2M10DT2H30M"), expected);
        assert_eq!(secs("P1DT1S"), 86_401);
        assert_eq!(secs("P1Y1D"), 366 * 86_400);
        assert_eq!(secs("PT1H1S"), 3_601);
        assert_eq!(secs("P007D"), 7 * 86_400);
    }

    #[test]
    fn ten_years_is_the_limit() {
        assert_eq!(secs("P10Y"), MAX_GRANT_SECS);
        assert_eq!(secs("P121M"), 121 * MONTH_SECS);
        assert_eq!(secs("P3650D"), MAX_GRANT_SECS);
        assert_eq!(secs(&format!("PT{MAX_GRANT_SECS}S")), MAX_GRANT_SECS);
        for text in ["P10YT1S", "P11Y", "P3651D", "P122M"] {
            assert!(
                matches!(
                    GrantDuration::parse(text),
                    Err(DurationError::TooLong { .. })
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn overflowing_numbers_are_too_long_not_a_panic() {
        let err = GrantDuration::parse("P99999999999999999999Y").unwrap_err();
        assert!(matches!(err, DurationError::TooLong { .. }), "{err}");
        let err = GrantDuration::parse("P999999999999999Y").unwrap_err();
        assert!(matches!(err, DurationError::TooLong { .. }), "{err}");
    }

    #[test]
    fn zero_is_refused() {
        for text in ["P0D", "PT0S", "P0Y0M0DT0H0M0S", "P0W"] {
            assert_eq!(
                GrantDuration::parse(text),
                Err(DurationError::Zero {
                    text: text.to_owned()
                }),
            );
        }
    }

    #[test]
    fn malformed_texts_are_refused() {
        for text in [
            "",
            "P",
            "PT",
            "30D",
            "p30d",
            "P30d",
            "P-1D",
            "P+1D",
            "P1.5D",
            "P1,5D",
            "PT1.5S",
            "P1D2Y",
            "P1M1Y",
            "P1D1D",
            "PT1S1H",
            "P1H",
            "PT1D",
            "PT1Y",
            "P1DT",
            "P1W1D",
            "P1Y1W",
            "P D",
            "P1D ",
            " P1D",
            "PD",
            "P1",
            "PT1",
            "P1DT1H1M1S1S",
            "P1Y2M10DT2H30M15S5",
            "P1TD",
            "-P1D",
            "P1DTT1H",
            "PT1HT1M",
        ] {
            assert!(
                matches!(
                    GrantDuration::parse(text),
                    Err(DurationError::Malformed { .. })
                ),
                "{text:?} was not malformed: {:?}",
                GrantDuration::parse(text)
            );
        }
        let long = format!("P{}1D", "0".repeat(MAX_DURATION_TEXT_LEN));
        assert!(matches!(
            GrantDuration::parse(&long),
            Err(DurationError::Malformed { .. })
        ));
    }

    #[test]
    fn text_is_kept_for_display() {
        let d = GrantDuration::parse("P1Y2M10DT2H30M").unwrap();
        assert_eq!(d.to_string(), "P1Y2M10DT2H30M");
        assert_eq!(
            d.in_words(),
            "1 year, 2 months, 10 days, 2 hours and 30 minutes"
        );
        assert_eq!(GrantDuration::parse("P30D").unwrap().in_words(), "30 days");
        assert_eq!(GrantDuration::parse("P2W").unwrap().in_words(), "2 weeks");
        assert_eq!(GrantDuration::parse("PT1M").unwrap().in_words(), "1 minute");
        assert_eq!(
            GrantDuration::parse("P1DT1S").unwrap().in_words(),
            "1 day and 1 second"
        );
        assert_eq!(
            GrantDuration::one_year(),
            GrantDuration::parse("P1Y").unwrap()
        );
    }

    #[test]
    fn serde_is_the_text_and_goes_through_parse() {
        let d: GrantDuration = serde_json::from_str(r#""P30D""#).unwrap();
        assert_eq!(d.as_secs(), 30 * 86_400);
        assert_eq!(serde_json::to_string(&d).unwrap(), r#""P30D""#);
        assert!(serde_json::from_str::<GrantDuration>(r#""P0D""#).is_err());
        assert!(serde_json::from_str::<GrantDuration>(r#""30 days""#).is_err());
    }

    #[test]
    fn constructors_respect_the_bounds() {
        assert_eq!(GrantDuration::from_days(30).unwrap().as_secs(), 30 * 86_400);
        assert_eq!(GrantDuration::from_secs(90).unwrap().as_str(), "PT90S");
        assert!(GrantDuration::from_days(0).is_none());
        assert!(GrantDuration::from_days(3651).is_none());
    }
}
