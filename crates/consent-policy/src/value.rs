//! What an attribute's value may look like, per [`ValueShape`]: an email
//! looks like an email, a birth date is a real date. Checked once when a
//! person records a value, so everything downstream can trust the shape.

use serde_json::Value;

use crate::ValueShape;

/// The longest single text value, in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// The most items in a text list.
pub const MAX_LIST_ITEMS: usize = 50;
/// The longest item of a text list, in characters.
pub const MAX_LIST_ITEM_CHARS: usize = 100;

/// Why a value does not fit its attribute's shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError(message.into()))
}

fn text(value: &Value, what: &str, max_chars: usize) -> Result<String, ValueError> {
    let Some(s) = value.as_str() else {
        return fail(format!("{what} must be a string"));
    };
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return fail(format!("{what} must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return fail(format!("{what} may have at most {max_chars} characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return fail(format!("{what} must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

fn check_email(value: &Value) -> Result<(), ValueError> {
    let email = text(value, "an email address", 254)?;
    let Some((local, domain)) = email.rsplit_once('@') else {
        return fail("an email address needs an @");
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if local.is_empty()
        || local.len() > 64
        || local.contains(char::is_whitespace)
        || local.contains('@')
    {
        return fail("an email address needs a name before the @, without spaces");
    }
    if !domain_ok {
        return fail("an email address needs a domain such as example.org after the @");
    }
    Ok(())
}

fn check_phone(value: &Value) -> Result<(), ValueError> {
    let phone = text(value, "a phone number", 32)?;
    let allowed = phone
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " -().".contains(c) || (c == '+' && i == 0));
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if !allowed || !(7..=15).contains(&digits) {
        return fail(
            "a phone number is 7 to 15 digits, optionally starting with +, e.g. +44 20 7946 0000",
        );
    }
    Ok(())
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn check_date(value: &Value) -> Result<(), ValueError> {
    let date = text(value, "a date", 10)?;
    let parts: Vec<&str> = date.split('-').collect();
    let shaped = parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !shaped {
        return fail("a date is written YYYY-MM-DD");
    }
    let (year, month, day): (u32, u32, u32) = (
        parts[0].parse().unwrap_or(0),
        parts[1].parse().unwrap_or(0),
        parts[2].parse().unwrap_or(0),
    );
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return fail("a date's month is 01 to 12"),
    };
    if !(1..=days_in_month).contains(&day) || !(1000..=9999).contains(&year) {
        return fail(format!("{date} is not a calendar date"));
    }
    Ok(())
}

fn check_text_list(value: &Value) -> Result<(), ValueError> {
    let Some(items) = value.as_array() else {
        return fail("a list must be a JSON array of strings");
    };
    if items.is_empty() || items.len() > MAX_LIST_ITEMS {
        return fail(format!("a list has 1 to {MAX_LIST_ITEMS} items"));
    }
    for item in items {
        text(item, "each item", MAX_LIST_ITEM_CHARS)?;
    }
    Ok(())
}

fn check_postal_address(value: &Value) -> Result<(), ValueError> {
    const FIELDS: [&str; 5] = ["lines", "city", "postal_code", "region", "country"];
    let Some(address) = value.as_object() else {
        return fail(
            "a postal address is an object with lines, city, postal_code, region, country",
        );
    };
    if let Some(unknown) = address.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return fail(format!("a postal address has no field {unknown:?}"));
    }
    match address.get("lines") {
        Some(lines) => check_text_list(lines)?,
        None => return fail("a postal address needs lines"),
    }
    for field in ["city", "postal_code", "region"] {
        if let Some(v) = address.get(field) {
            text(v, field, 100)?;
        }
    }
    match address.get("country").and_then(Value::as_str) {
        Some(c) if c.len() == 2 && c.chars().all(|c| c.is_ascii_uppercase()) => Ok(()),
        _ => fail("a postal address needs country as an ISO 3166 code such as GB"),
    }
}

fn check_integer(value: &Value) -> Result<(), ValueError> {
    match value.as_u64() {
        Some(n) if n <= 1_000_000 => Ok(()),
        _ => fail("a whole number from 0 to 1000000"),
    }
}

impl ValueShape {
    /// Checks that `value` has this shape.
    pub fn check(self, value: &Value) -> Result<(), ValueError> {
        match self {
            ValueShape::Email => check_email(value),
            ValueShape::Phone => check_phone(value),
            ValueShape::Date => check_date(value),
            ValueShape::Text => text(value, "the value", MAX_TEXT_CHARS).map(|_| ()),
            ValueShape::TextList => check_text_list(value),
            ValueShape::PostalAddress => check_postal_address(value),
            ValueShape::Integer => check_integer(value),
            ValueShape::Json if value.is_null() => fail("a value is required"),
            ValueShape::Json => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(shape: ValueShape, v: Value) {
        assert_eq!(shape.check(&v), Ok(()), "{shape:?} {v}");
    }
    fn bad(shape: ValueShape, v: Value) {
        assert!(shape.check(&v).is_err(), "{shape:?} accepted {v}");
    }

    #[test]
    fn emails() {
        ok(ValueShape::Email, json!("ada@example.org"));
        ok(ValueShape::Email, json!("a.b+tag@mail.example.co.uk"));
        for v in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "a da@x.org",
            "ada@x..org",
            "ada@.x.org",
        ] {
            bad(ValueShape::Email, json!(v));
        }
        bad(ValueShape::Email, json!(42));
    }

    #[test]
    fn phones() {
        ok(ValueShape::Phone, json!("+44 20 7946 0000"));
        ok(ValueShape::Phone, json!("(555) 123-4567"));
        for v in ["12345", "call me", "+1 2+3 456 7890", "1234567890123456"] {
            bad(ValueShape::Phone, json!(v));
        }
    }

    #[test]
    fn dates() {
        ok(ValueShape::Date, json!("1815-12-10"));
        ok(ValueShape::Date, json!("2024-02-29"));
        for v in [
            "2023-02-29",
            "1815-13-01",
            "1815-12-32",
            "10-12-1815",
            "1815/12/10",
            "1815-1-1",
        ] {
            bad(ValueShape::Date, json!(v));
        }
    }

    #[test]
    fn texts_lists_addresses_integers() {
        ok(ValueShape::Text, json!("Ada"));
        bad(ValueShape::Text, json!("  "));
        bad(ValueShape::Text, json!("a\u{0007}b"));
        bad(ValueShape::Text, json!("x".repeat(MAX_TEXT_CHARS + 1)));
        ok(ValueShape::TextList, json!(["maths", "poetry"]));
        bad(ValueShape::TextList, json!([]));
        bad(ValueShape::TextList, json!("maths"));
        bad(ValueShape::TextList, json!(["ok", 3]));
        ok(
            ValueShape::PostalAddress,
            json!({"lines": ["12 St James's Square"], "city": "London", "postal_code": "SW1Y 4LB", "country": "GB"}),
        );
        bad(
            ValueShape::PostalAddress,
            json!({"lines": ["x"], "country": "gb"}),
        );
        bad(
            ValueShape::PostalAddress,
            json!({"lines": ["x"], "country": "GB", "planet": "Earth"}),
        );
        bad(ValueShape::PostalAddress, json!("12 St James's Square"));
        ok(ValueShape::Integer, json!(4));
        bad(ValueShape::Integer, json!(-1));
        bad(ValueShape::Integer, json!(2.5));
        ok(ValueShape::Json, json!({"anything": [1, 2]}));
        bad(ValueShape::Json, json!(null));
    }
}
