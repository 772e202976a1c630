//! Checking requests as they arrive on the wire: every error, from real JSON.

#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a failed unwrap is a failed test"
)]

use consent_policy::{
    AttributeKey, Currency, DataRequest, GrantDuration, MAX_ATTRIBUTES_PER_REQUEST, Money, Purpose,
    RawRequest, RequestError,
};

fn year() -> GrantDuration {
    GrantDuration::parse("P1Y").unwrap()
}

fn check(json: &str) -> Result<DataRequest, RequestError> {
    DataRequest::parse_json(json, &year())
}

/// Checks through plain serde into `RawRequest`, the path the server's extractor takes.
fn check_raw(json: &str) -> Result<DataRequest, RequestError> {
    let raw: RawRequest = serde_json::from_str(json).unwrap();
    raw.validate(&year())
}

fn err(json: &str) -> RequestError {
    let via_value = check(json).unwrap_err();
    if let Ok(raw) = serde_json::from_str::<RawRequest>(json) {
        assert_eq!(raw.validate(&year()).unwrap_err(), via_value, "{json}");
    }
    via_value
}

#[test]
fn fully_valid_request_is_accepted() {
    let request = check(
        r#"{"type": "apiome_data", "attributes": ["email", "interests", "x-shoe-size"],
            "purpose": "marketing", "duration": "P30D",
            "offer": {"amount_micros": 50000, "currency": "USD"}}"#,
    )
    .unwrap();
    let keys: Vec<&str> = request
        .attributes()
        .iter()
        .map(AttributeKey::as_str)
        .collect();
    assert_eq!(keys, ["email", "interests", "x-shoe-size"]);
    assert_eq!(request.purpose(), Purpose::Marketing);
    assert_eq!(request.duration().as_secs(), 30 * 86_400);
    assert_eq!(request.duration().as_str(), "P30D");
    assert_eq!(request.offer(), Some(&Money::new(50_000, Currency::USD)));
}

#[test]
fn offer_is_optional_and_may_be_null() {
    for json in [
        r#"{"type": "apiome_data", "attributes": ["email"], "purpose": "analytics", "duration": "PT1H"}"#,
        r#"{"type": "apiome_data", "attributes": ["email"], "purpose": "analytics", "duration": "PT1H", "offer": null}"#,
    ] {
        assert_eq!(check(json).unwrap().offer(), None);
        assert_eq!(check_raw(json).unwrap().offer(), None);
    }
}

#[test]
fn wrong_type_is_refused() {
    let json = r#"{"type": "payment_initiation", "attributes": ["email"], "purpose": "marketing", "duration": "P30D"}"#;
    assert_eq!(err(json), RequestError::WrongType);
    assert_eq!(err(json).field(), "type");
}

#[test]
fn wrong_type_is_reported_even_when_the_shape_is_another_types() {
    let json = r#"{"type": "payment_initiation", "instructedAmount": {"amount_micros": "1.00"}}"#;
    assert_eq!(check(json), Err(RequestError::WrongType));
}

#[test]
fn empty_attribute_list_is_refused() {
    let json =
        r#"{"type": "apiome_data", "attributes": [], "purpose": "marketing", "duration": "P30D"}"#;
    assert_eq!(err(json), RequestError::EmptyRequest);
}

#[test]
fn too_many_attributes_are_refused() {
    let keys: Vec<String> = (0..=MAX_ATTRIBUTES_PER_REQUEST)
        .map(|i| format!("\"x-k{i}\""))
        .collect();
    let json = format!(
        r#"{{"type": "apiome_data", "attributes": [{}], "purpose": "marketing", "duration": "P30D"}}"#,
        keys.join(",")
    );
    assert_eq!(err(&json), RequestError::TooManyAttributes { max: 64 });
    let keys = &keys[..MAX_ATTRIBUTES_PER_REQUEST];
    let json = format!(
        r#"{{"type": "apiome_data", "attributes": [{}], "purpose": "marketing", "duration": "P30D"}}"#,
        keys.join(",")
    );
    assert_eq!(
        check(&json).unwrap().attributes().len(),
        MAX_ATTRIBUTES_PER_REQUEST
    );
}

#[test]
fn unknown_attribute_is_refused_by_name() {
    let json = r#"{"type": "apiome_data", "attributes": ["email", "shoe_size"], "purpose": "marketing", "duration": "P30D"}"#;
    assert_eq!(
        err(json),
        RequestError::UnknownAttribute {
            key: "shoe_size".into()
        }
    );
    let json = r#"{"type": "apiome_data", "attributes": ["x-Shoe"], "purpose": "marketing", "duration": "P30D"}"#;
    assert_eq!(
        err(json),
        RequestError::UnknownAttribute {
            key: "x-Shoe".into()
        }
    );
}

#[test]
fn duplicate_attribute_is_refused_by_name() {
    let json = r#"{"type": "apiome_data", "attributes": ["email", "phone", "email"], "purpose": "marketing", "duration": "P30D"}"#;
    assert_eq!(
        err(json),
        RequestError::DuplicateAttribute {
            key: "email".into()
        }
    );
}

#[test]
fn unknown_purpose_is_refused_by_name() {
    let json = r#"{"type": "apiome_data", "attributes": ["email"], "purpose": "advertising", "duration": "P30D"}"#;
    assert_eq!(
        err(json),
        RequestError::UnknownPurpose {
            purpose: "advertising".into()
        }
    );
}

#[test]
fn invalid_durations_are_refused_by_text() {
    for text in ["30 days", "P0D", "P1.5D", "-P1D", "P", ""] {
        let json = format!(
            r#"{{"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "{text}"}}"#
        );
        assert_eq!(
            err(&json),
            RequestError::InvalidDuration { text: text.into() },
            "{text}"
        );
    }
}

#[test]
fn duration_beyond_the_persons_limit_is_refused_with_both_figures() {
    let json = r#"{"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P1Y1D"}"#;
    assert_eq!(
        err(json),
        RequestError::DurationTooLong {
            requested_secs: 366 * 86_400,
            max_secs: 365 * 86_400
        }
    );
    let json = r#"{"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P20Y"}"#;
    assert_eq!(
        err(json),
        RequestError::DurationTooLong {
            requested_secs: 20 * 365 * 86_400,
            max_secs: 365 * 86_400
        }
    );
}

#[test]
fn duration_equal_to_the_persons_limit_is_accepted() {
    let json = r#"{"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P365D"}"#;
    assert_eq!(check(json).unwrap().duration().as_secs(), year().as_secs());
}

fn with_offer(offer: &str) -> String {
    format!(
        r#"{{"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P30D", "offer": {offer}}}"#
    )
}

#[test]
fn negative_offer_is_refused() {
    for amount in [
        "-1",
        "-9223372036854775808",
        "-99999999999999999999999",
        "-1e30",
    ] {
        let json = with_offer(&format!(
            r#"{{"amount_micros": {amount}, "currency": "USD"}}"#
        ));
        assert_eq!(err(&json), RequestError::NegativeOffer, "{amount}");
    }
}

#[test]
fn offer_beyond_the_books_is_an_overflow() {
    for amount in [
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "1e30",
        "1e400",
        "340282366920938463463374607431768211456000",
    ] {
        let json = with_offer(&format!(
            r#"{{"amount_micros": {amount}, "currency": "USD"}}"#
        ));
        let got = check(&json);
        if amount == "1e400" {
            // Beyond f64 itself: the JSON parser refuses it before we see it.
            assert!(
                matches!(got, Err(RequestError::Malformed { .. })),
                "{got:?}"
            );
        } else {
            assert_eq!(got, Err(RequestError::OfferOverflow), "{amount}");
        }
    }
}

#[test]
fn largest_and_smallest_offers_are_accepted() {
    for (amount, micros) in [
        ("9223372036854775807", consent_policy::MAX_AMOUNT_MICROS),
        ("0", 0),
        ("5e4", 50_000),
    ] {
        let json = with_offer(&format!(
            r#"{{"amount_micros": {amount}, "currency": "EUR"}}"#
        ));
        assert_eq!(
            check(&json).unwrap().offer(),
            Some(&Money::new(micros, Currency::EUR))
        );
    }
}

#[test]
fn fractional_offer_is_malformed() {
    let json = with_offer(r#"{"amount_micros": 0.5, "currency": "USD"}"#);
    assert!(matches!(check(&json), Err(RequestError::Malformed { .. })));
    assert!(serde_json::from_str::<RawRequest>(&json).is_err());
}

#[test]
fn unknown_currency_is_refused_by_code() {
    for code in ["XYZ", "usd", "BTC"] {
        let json = with_offer(&format!(r#"{{"amount_micros": 1, "currency": "{code}"}}"#));
        assert_eq!(
            err(&json),
            RequestError::UnknownCurrency { code: code.into() }
        );
    }
}

#[test]
fn unknown_fields_are_refused() {
    let json = r#"{"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P30D", "locations": ["https://acme.example"]}"#;
    assert!(matches!(check(json), Err(RequestError::Malformed { .. })));
    assert!(serde_json::from_str::<RawRequest>(json).is_err());
    let json = with_offer(r#"{"amount_micros": 1, "currency": "USD", "tip": 2}"#);
    assert!(matches!(check(&json), Err(RequestError::Malformed { .. })));
}

#[test]
fn missing_fields_and_wrong_json_types_are_malformed() {
    for json in [
        r#"{"attributes": ["email"], "purpose": "marketing", "duration": "P30D"}"#,
        r#"{"type": "apiome_data", "purpose": "marketing", "duration": "P30D"}"#,
        r#"{"type": "apiome_data", "attributes": "email", "purpose": "marketing", "duration": "P30D"}"#,
        r#"{"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": 30}"#,
        r#"{"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P30D", "offer": {"amount_micros": "5", "currency": "USD"}}"#,
        r#"[]"#,
        r#"not json"#,
    ] {
        let got = check(json);
        assert!(
            matches!(got, Err(RequestError::Malformed { .. })),
            "{json}: {got:?}"
        );
        assert_eq!(got.unwrap_err().field(), "authorization_details");
    }
}

#[test]
fn first_error_in_field_order_is_reported() {
    // Everything is wrong; each step fixes the field that was reported.
    let steps = [
        (
            r#""nope""#,
            r#"["shoe_size", "email", "email"]"#,
            r#""selling""#,
            r#""forever""#,
            r#"{"amount_micros": -5, "currency": "XYZ"}"#,
        ),
        (
            r#""apiome_data""#,
            r#"["shoe_size", "email", "email"]"#,
            r#""selling""#,
            r#""forever""#,
            r#"{"amount_micros": -5, "currency": "XYZ"}"#,
        ),
        (
            r#""apiome_data""#,
            r#"["email", "email", "shoe_size"]"#,
            r#""selling""#,
            r#""forever""#,
            r#"{"amount_micros": -5, "currency": "XYZ"}"#,
        ),
        (
            r#""apiome_data""#,
            r#"["email"]"#,
            r#""selling""#,
            r#""forever""#,
            r#"{"amount_micros": -5, "currency": "XYZ"}"#,
        ),
        (
            r#""apiome_data""#,
            r#"["email"]"#,
            r#""research""#,
            r#""forever""#,
            r#"{"amount_micros": -5, "currency": "XYZ"}"#,
        ),
        (
            r#""apiome_data""#,
            r#"["email"]"#,
            r#""research""#,
            r#""P2Y""#,
            r#"{"amount_micros": -5, "currency": "XYZ"}"#,
        ),
        (
            r#""apiome_data""#,
            r#"["email"]"#,
            r#""research""#,
            r#""P1D""#,
            r#"{"amount_micros": -5, "currency": "XYZ"}"#,
        ),
        (
            r#""apiome_data""#,
            r#"["email"]"#,
            r#""research""#,
            r#""P1D""#,
            r#"{"amount_micros": 5, "currency": "XYZ"}"#,
        ),
    ];
    let expected = [
        RequestError::WrongType,
        RequestError::UnknownAttribute {
            key: "shoe_size".into(),
        },
        RequestError::DuplicateAttribute {
            key: "email".into(),
        },
        RequestError::UnknownPurpose {
            purpose: "selling".into(),
        },
        RequestError::InvalidDuration {
            text: "forever".into(),
        },
        RequestError::DurationTooLong {
            requested_secs: 2 * 365 * 86_400,
            max_secs: 365 * 86_400,
        },
        RequestError::NegativeOffer,
        RequestError::UnknownCurrency { code: "XYZ".into() },
    ];
    let fields = [
        "type",
        "attributes",
        "attributes",
        "purpose",
        "duration",
        "duration",
        "offer.amount_micros",
        "offer.currency",
    ];
    for (((kind, attributes, purpose, duration, offer), want), field) in
        steps.into_iter().zip(expected).zip(fields)
    {
        let json = format!(
            r#"{{"type": {kind}, "attributes": {attributes}, "purpose": {purpose}, "duration": {duration}, "offer": {offer}}}"#
        );
        let got = err(&json);
        assert_eq!(got, want, "{json}");
        assert_eq!(got.field(), field);
        assert!(!got.to_string().is_empty());
    }
}

#[test]
fn checked_request_serialises_to_the_wire_shape_and_back() {
    let json = r#"{"type":"apiome_data","attributes":["phone","x-pets"],"purpose":"resale","duration":"P1Y2M10DT2H30M","offer":{"amount_micros":1500000,"currency":"GBP"}}"#;
    let request = DataRequest::parse_json(json, &GrantDuration::parse("P10Y").unwrap()).unwrap();
    // Written in the API's one money shape, `display` included.
    let written = r#"{"type":"apiome_data","attributes":["phone","x-pets"],"purpose":"resale","duration":"P1Y2M10DT2H30M","offer":{"amount_micros":1500000,"currency":"GBP","display":"1.50 GBP"}}"#;
    assert_eq!(serde_json::to_string(&request).unwrap(), written);
    assert_eq!(
        serde_json::from_str::<DataRequest>(written).unwrap(),
        request
    );
    assert_eq!(serde_json::from_str::<DataRequest>(json).unwrap(), request);
    // What a company sends back as it read it is the same request.
    assert_eq!(
        DataRequest::parse_json(written, &GrantDuration::parse("P10Y").unwrap()).unwrap(),
        request
    );
    assert_eq!(
        request
            .to_raw()
            .validate(&GrantDuration::parse("P10Y").unwrap())
            .unwrap(),
        request
    );
}

#[test]
fn a_request_stored_before_amount_micros_reads_the_same_but_the_wire_refuses_it() {
    let old = r#"{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P30D","offer":{"amount":50000,"currency":"EUR"}}"#;
    let stored: DataRequest = serde_json::from_str(old).unwrap();
    assert_eq!(stored.offer().unwrap().amount_micros(), 50_000);
    assert!(matches!(
        DataRequest::parse_json(old, &GrantDuration::parse("P1Y").unwrap()),
        Err(RequestError::Malformed { .. })
    ));
}

#[test]
fn deserialising_a_checked_request_still_enforces_the_ten_year_ceiling() {
    let json =
        r#"{"type":"apiome_data","attributes":["email"],"purpose":"research","duration":"P10Y"}"#;
    assert!(serde_json::from_str::<DataRequest>(json).is_ok());
    let json = r#"{"type":"apiome_data","attributes":["email"],"purpose":"research","duration":"P10YT1S"}"#;
    assert!(serde_json::from_str::<DataRequest>(json).is_err());
    let json =
        r#"{"type":"apiome_data","attributes":["nope"],"purpose":"research","duration":"P1D"}"#;
    assert!(serde_json::from_str::<DataRequest>(json).is_err());
}
