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

/// The only bytes after the leading `P`: digits, the unit designators and
/// `T`. jiff reads a larger grammar (lower case, signs, fractions); this
/// keeps the wire format the subset below.
fn is_subset_byte(b: u8) -> bool {
    b.is_ascii_digit() || b"YMWDTHS".contains(&b)
}

/// How long a company may keep access to data.
///
/// Accepted text: `P` then any of `nY`, `nM`, `nD` in that order, then
/// optionally `T` and any of `nH`, `nM`, `nS` in that order (`P1Y2M10DT2H30M`);
/// or a week count alone (`P2W`), as ISO 8601 has it. `n` is a run of ASCII
/// digits: no sign, no fraction, upper-case designators only. Lengths are
/// fixed by convention, not by a calendar: a year is 365 days, a month 30 days,
/// a day 86 400 seconds. The total must be more than zero and at most ten years
/// ([`MAX_GRANT_SECS`]). The original text is kept for display.
///
/// The grammar (designators, their order, `T`) is jiff's ISO 8601 / Temporal
/// duration parser; on top of it this type allows only the subset above and
/// does the fixed-convention arithmetic, which no calendar library does (jiff
/// would need a date to count months in seconds).
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
        let Ok(span) = parse_span(&self.text) else {
            return format!("{} seconds", self.secs);
        };
        let mut parts: Vec<String> = counts(&span)
            .iter()
            .zip(UNIT_NAMES)
            .filter(|(count, _)| **count > 0)
            .map(|(count, unit)| {
                let plural = if *count == 1 { "" } else { "s" };
                format!("{count} {unit}{plural}")
            })
            .collect();
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

/// Each unit's name, largest first, as [`counts`] and [`UNIT_SECS`] order them.
const UNIT_NAMES: [&str; 7] = ["year", "month", "week", "day", "hour", "minute", "second"];
/// Each unit's length in seconds, by this type's conventions.
const UNIT_SECS: [u64; 7] = [YEAR_SECS, MONTH_SECS, WEEK_SECS, DAY_SECS, 3_600, 60, 1];

/// A parsed span's counts, largest unit first. Never negative: the subset
/// has no sign.
fn counts(span: &jiff::Span) -> [i64; 7] {
    [
        i64::from(span.get_years()),
        i64::from(span.get_months()),
        i64::from(span.get_weeks()),
        i64::from(span.get_days()),
        i64::from(span.get_hours()),
        span.get_minutes(),
        span.get_seconds(),
    ]
}

/// Why a text is refused before its length is known.
enum Refusal {
    Malformed(&'static str),
    /// A count jiff cannot hold: far more than ten years in any unit.
    Overflow,
}

/// Parses `text` with jiff after checking it is in the accepted subset.
fn parse_span(text: &str) -> Result<jiff::Span, Refusal> {
    if text.len() > MAX_DURATION_TEXT_LEN {
        return Err(Refusal::Malformed("too long a text"));
    }
    let Some(rest) = text.strip_prefix('P') else {
        return Err(Refusal::Malformed("it must start with `P`"));
    };
    if !rest.bytes().all(is_subset_byte) {
        return Err(Refusal::Malformed(
            "each part is a whole number followed by a unit letter",
        ));
    }
    // ISO 8601 has weeks alone; jiff (as Temporal) would mix them.
    let parts = rest.bytes().filter(|b| b"YMWDHS".contains(b)).count();
    let weeks_mixed = rest.contains('W') && parts > 1;
    let parser = jiff::fmt::temporal::SpanParser::new();
    let span = match parser.parse_span(text) {
        Ok(span) => span,
        // The text is in the subset's alphabet; if it parses with every
        // count made 1, only a count's size can have stopped jiff (a count
        // beyond what it holds in that unit, far beyond ten years).
        Err(_) if !weeks_mixed && parser.parse_span(with_counts_of_one(text)).is_ok() => {
            return Err(Refusal::Overflow);
        }
        Err(_) => return Err(Refusal::Malformed(grammar_problem(rest))),
    };
    if weeks_mixed {
        return Err(Refusal::Malformed(
            "weeks cannot be combined with other units",
        ));
    }
    // Parts below a second appear only when jiff carried a seconds count
    // past its own maximum into them (fractions are refused above): far
    // more than ten years.
    let subsecond =
        span.get_milliseconds() != 0 || span.get_microseconds() != 0 || span.get_nanoseconds() != 0;
    if subsecond {
        return Err(Refusal::Overflow);
    }
    Ok(span)
}

/// `text` with each run of digits replaced by `1`.
fn with_counts_of_one(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('1');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// What is wrong with a text in the subset's alphabet that jiff refused,
/// in the words this type has always used.
fn grammar_problem(rest: &str) -> &'static str {
    let bytes = rest.as_bytes();
    if bytes.is_empty() {
        "it needs at least one part, such as 30D"
    } else if bytes.last().is_some_and(u8::is_ascii_digit) {
        "a number must be followed by a unit letter"
    } else if rest
        .split_once('T')
        .is_some_and(|(_, time)| !time.bytes().next().is_some_and(|b| b.is_ascii_digit()))
    {
        "`T` must be followed by hours, minutes or seconds"
    } else if bytes
        .windows(2)
        .any(|w| !w[0].is_ascii_digit() && !w[1].is_ascii_digit())
        || !bytes[0].is_ascii_digit()
    {
        "each part is a whole number followed by a unit letter"
    } else {
        "units must be Y, M, W or D before T and H, M or S after, largest first, each once"
    }
}

/// The length in seconds, `Ok(None)` when it overflows, or what is malformed.
fn parse_secs(text: &str) -> Result<Option<u64>, &'static str> {
    let span = match parse_span(text) {
        Ok(span) => span,
        Err(Refusal::Overflow) => return Ok(None),
        Err(Refusal::Malformed(problem)) => return Err(problem),
    };
    Ok(counts(&span)
        .iter()
        .zip(UNIT_SECS)
        .try_fold(0_u64, |total, (count, unit_secs)| {
            u64::try_from(*count)
                .ok()?
                .checked_mul(unit_secs)?
                .checked_add(total)
        }))
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
    fn refusals_say_what_is_wrong_in_the_same_words() {
        let problem = |text: &str| match GrantDuration::parse(text) {
            Err(DurationError::Malformed { problem, .. }) => problem,
            other => panic!("{text:?}: {other:?}"),
        };
        assert_eq!(problem("30D"), "it must start with `P`");
        assert_eq!(problem("P"), "it needs at least one part, such as 30D");
        assert_eq!(problem("P1"), "a number must be followed by a unit letter");
        assert_eq!(
            problem("P1DT"),
            "`T` must be followed by hours, minutes or seconds"
        );
        assert_eq!(
            problem("P-1D"),
            "each part is a whole number followed by a unit letter"
        );
        assert_eq!(
            problem("P1D2Y"),
            "units must be Y, M, W or D before T and H, M or S after, largest first, each once"
        );
        assert_eq!(
            problem("P1W1D"),
            "weeks cannot be combined with other units"
        );
        assert_eq!(
            GrantDuration::parse("P1.5D").unwrap_err().to_string(),
            "`P1.5D` is not an ISO 8601 duration such as P30D or PT12H: \
             each part is a whole number followed by a unit letter"
        );
        assert_eq!(
            GrantDuration::parse("P11Y").unwrap_err().to_string(),
            "`P11Y` is 346896000 s, more than the 315360000 s (ten years) a grant may last"
        );
    }

    #[test]
    fn a_count_too_large_for_jiff_is_too_long_unless_the_text_is_malformed_too() {
        for text in ["P20000Y", "PT999999999999H", "P99999999999999999999D"] {
            assert!(
                matches!(
                    GrantDuration::parse(text),
                    Err(DurationError::TooLong { .. })
                ),
                "{text}"
            );
        }
        for text in [
            "P20000Y1D2Y",
            "P99999999999999999999H",
            "P99999999999999999999DT",
        ] {
            assert!(
                matches!(
                    GrantDuration::parse(text),
                    Err(DurationError::Malformed { .. })
                ),
                "{text}"
            );
        }
    }

    /// The parser this type had before it used jiff, kept as the model the
    /// jiff-based one must agree with on every text.
    mod reference {
        const DAY: u64 = 86_400;
        const DATE_UNITS: [(u8, u64); 4] = [
            (b'Y', 365 * DAY),
            (b'M', 30 * DAY),
            (b'W', 7 * DAY),
            (b'D', DAY),
        ];
        const TIME_UNITS: [(u8, u64); 3] = [(b'H', 3_600), (b'M', 60), (b'S', 1)];

        /// Seconds, `Ok(None)` on overflow, `Err(())` when malformed.
        pub fn parse_secs(text: &str) -> Result<Option<u64>, ()> {
            if text.len() > super::MAX_DURATION_TEXT_LEN {
                return Err(());
            }
            let rest = text.strip_prefix('P').ok_or(())?;
            let (date, time) = match rest.split_once('T') {
                Some((_, "")) => return Err(()),
                Some((date, time)) => (date, time),
                None => (rest, ""),
            };
            let (mut total, mut components, mut week) = (Some(0_u64), 0, false);
            for (part, units) in [(date, &DATE_UNITS[..]), (time, &TIME_UNITS[..])] {
                let mut next_unit = 0;
                let mut bytes = part.bytes().peekable();
                while bytes.peek().is_some() {
                    let (mut count, mut digits) = (Some(0_u64), 0);
                    while let Some(b) = bytes.next_if(u8::is_ascii_digit) {
                        digits += 1;
                        count = count
                            .and_then(|c| c.checked_mul(10))
                            .and_then(|c| c.checked_add(u64::from(b - b'0')));
                    }
                    let designator = bytes.next().filter(|_| digits > 0).ok_or(())?;
                    let offset = units[next_unit..]
                        .iter()
                        .position(|(d, _)| *d == designator)
                        .ok_or(())?;
                    let (d, unit_secs) = units[next_unit + offset];
                    next_unit += offset + 1;
                    week |= d == b'W';
                    components += 1;
                    total = total
                        .zip(count)
                        .and_then(|(t, c)| c.checked_mul(unit_secs).and_then(|s| t.checked_add(s)));
                }
            }
            if components == 0 || (week && components > 1) {
                return Err(());
            }
            Ok(total)
        }
    }

    /// What a parse came to, without the words.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Secs(u64),
        Malformed,
        Zero,
        TooLong,
    }

    fn outcome(text: &str) -> Outcome {
        match GrantDuration::parse(text) {
            Ok(d) => Outcome::Secs(d.as_secs()),
            Err(DurationError::Malformed { .. }) => Outcome::Malformed,
            Err(DurationError::Zero { .. }) => Outcome::Zero,
            Err(DurationError::TooLong { .. }) => Outcome::TooLong,
        }
    }

    fn reference_outcome(text: &str) -> Outcome {
        match reference::parse_secs(text) {
            Err(()) => Outcome::Malformed,
            Ok(None) => Outcome::TooLong,
            Ok(Some(0)) => Outcome::Zero,
            Ok(Some(secs)) if secs > MAX_GRANT_SECS => Outcome::TooLong,
            Ok(Some(secs)) => Outcome::Secs(secs),
        }
    }

    /// Texts near the grammar: mostly `P`, then counts (some huge) and
    /// designators in any order, now and then a byte from outside.
    fn near_durations() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            8 => (0_u64..100_000).prop_map(|n| n.to_string()),
            1 => Just("99999999999999999999".to_owned()),
            1 => (0_u64..=u64::MAX).prop_map(|n| n.to_string()),
            10 => proptest::sample::select(vec!["Y", "M", "W", "D", "T", "H", "S"]).prop_map(str::to_owned),
            1 => proptest::sample::select(vec!["P", "p", "d", "-", "+", ".", ",", " ", "é"]).prop_map(str::to_owned),
        ];
        (
            prop_oneof![9 => Just("P"), 1 => Just(""), 1 => Just("-P")],
            proptest::collection::vec(piece, 0..8),
        )
            .prop_map(|(start, pieces)| format!("{start}{}", pieces.concat()))
    }

    /// Well-formed texts: each unit present or not, in order.
    fn well_formed() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let count = || proptest::option::of(prop_oneof![0_u64..200, 0_u64..400_000_000]);
        (
            proptest::array::uniform3(count()),
            proptest::array::uniform3(count()),
            proptest::option::weighted(0.1, 0_u64..600),
        )
            .prop_map(|(date, time, weeks)| {
                if let Some(w) = weeks {
                    return format!("P{w}W");
                }
                let mut text = String::from("P");
                for (n, u) in date.iter().zip(["Y", "M", "D"]) {
                    if let Some(n) = n {
                        text.push_str(&format!("{n}{u}"));
                    }
                }
                if time.iter().any(Option::is_some) {
                    text.push('T');
                    for (n, u) in time.iter().zip(["H", "M", "S"]) {
                        if let Some(n) = n {
                            text.push_str(&format!("{n}{u}"));
                        }
                    }
                }
                text
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        #[test]
        fn jiff_parsing_agrees_with_the_reference_near_the_grammar(text in near_durations()) {
            proptest::prop_assert_eq!(outcome(&text), reference_outcome(&text), "{}", text);
        }

        #[test]
        fn jiff_parsing_agrees_with_the_reference_on_well_formed_texts(text in well_formed()) {
            proptest::prop_assert_eq!(outcome(&text), reference_outcome(&text), "{}", text);
        }

        #[test]
        fn any_text_is_parsed_or_refused_never_a_panic(text in "\\PC{0,48}") {
            let _ = GrantDuration::parse(&text);
        }
    }

    #[test]
    fn constructors_respect_the_bounds() {
        assert_eq!(GrantDuration::from_days(30).unwrap().as_secs(), 30 * 86_400);
        assert_eq!(GrantDuration::from_secs(90).unwrap().as_str(), "PT90S");
        assert!(GrantDuration::from_days(0).is_none());
        assert!(GrantDuration::from_days(3651).is_none());
    }
}
