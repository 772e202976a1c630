//! One RFC 9396 `authorization_details` entry, as `POST /v1/requests` and the
//! OAuth endpoints hand it to `DataRequest::from_json_value` (a one-entry
//! array is unwrapped first, as they do).
//!
//! Beyond "no panic": a request that parses is within its documented bounds,
//! a person's shorter limit only ever turns success into `DurationTooLong`,
//! and the checked request survives every wire round trip unchanged.
#![no_main]

use consent_policy::{
    DataRequest, GrantDuration, MAX_ATTRIBUTES_PER_REQUEST, MAX_GRANT_SECS, RequestError,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ceiling = GrantDuration::from_secs(MAX_GRANT_SECS).expect("ten years is a grant");
    let month = GrantDuration::parse("P30D").expect("P30D is a grant");

    // The server parses the body to a JSON value first, then checks the entry.
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        assert!(DataRequest::parse_json(text, &ceiling).is_err());
        return;
    };
    // The parameter is an array of exactly one entry (both the API and the
    // OAuth endpoints unwrap it first); a bare entry is checked as it is.
    let value = match value {
        serde_json::Value::Array(mut entries) if entries.len() == 1 => {
            entries.pop().expect("one entry")
        }
        value => {
            let direct = DataRequest::parse_json(text, &ceiling);
            assert_eq!(
                direct,
                DataRequest::from_json_value(value.clone(), &ceiling)
            );
            value
        }
    };
    let wide = DataRequest::from_json_value(value.clone(), &ceiling);
    let narrow = DataRequest::from_json_value(value, &month);

    let request = match wide {
        Ok(request) => request,
        Err(e) => {
            check_error(&e);
            // A shorter limit cannot make a refused request acceptable.
            assert!(narrow.is_err(), "accepted under P30D but not ten years");
            return;
        }
    };

    // Bounds the type promises.
    let n = request.attributes().len();
    assert!((1..=MAX_ATTRIBUTES_PER_REQUEST).contains(&n));
    for (i, key) in request.attributes().iter().enumerate() {
        assert!(
            !request.attributes()[..i].contains(key),
            "duplicate {key:?}"
        );
    }
    let secs = request.duration().as_secs();
    assert!(secs > 0 && secs <= MAX_GRANT_SECS);

    // The person's limit refuses exactly the longer durations.
    if secs <= month.as_secs() {
        assert_eq!(narrow.as_ref(), Ok(&request));
    } else {
        assert_eq!(
            narrow,
            Err(RequestError::DurationTooLong {
                requested_secs: secs,
                max_secs: month.as_secs()
            })
        );
    }

    // Wire round trips give back the same request.
    assert_eq!(request.to_raw().validate(&ceiling).as_ref(), Ok(&request));
    let json = serde_json::to_string(&request).expect("a request serialises");
    assert_eq!(
        DataRequest::parse_json(&json, &ceiling).as_ref(),
        Ok(&request)
    );
    let back: DataRequest = serde_json::from_str(&json).expect("own JSON deserialises");
    assert_eq!(back, request);
});

fn check_error(e: &RequestError) {
    assert!(!e.field().is_empty());
    assert!(!e.code().is_empty());
    assert!(!e.to_string().is_empty());
}
