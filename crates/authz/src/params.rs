//! Request parameters (query string or form body), checked for size and repeats.

use crate::error::OAuthError;

/// The most parameters one request may carry.
pub const MAX_PARAMS: usize = 40;
/// The longest encoded parameter text accepted, in bytes.
pub const MAX_PARAMS_LEN: usize = 16 * 1024;

/// The parameters of one OAuth request, in the order they came.
///
/// RFC 6749 §3.1 forbids repeating a parameter; [`Params::get`] reports a
/// repeat as `invalid_request` when the parameter is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses an `application/x-www-form-urlencoded` text (a query string or a form body).
    ///
    /// # Errors
    /// `invalid_request` when it is longer than [`MAX_PARAMS_LEN`] or has more
    /// than [`MAX_PARAMS`] parameters.
    pub fn from_form(text: &str) -> Result<Self, OAuthError> {
        if text.len() > MAX_PARAMS_LEN {
            return Err(OAuthError::invalid_request(format!(
                "the request parameters are longer than {MAX_PARAMS_LEN} bytes"
            )));
        }
        Self::from_pairs(text.split('&').filter(|s| !s.is_empty()).map(decode_pair))
    }

    /// Takes parameters that are already decoded.
    ///
    /// # Errors
    /// `invalid_request` when there are more than [`MAX_PARAMS`].
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, OAuthError> {
        let mut out = Vec::new();
        for pair in pairs {
            if out.len() == MAX_PARAMS {
                return Err(OAuthError::invalid_request(format!(
                    "a request may carry at most {MAX_PARAMS} parameters"
                )));
            }
            out.push(pair);
        }
        Ok(Self(out))
    }

    /// The value of `name`, `None` when absent or empty (RFC 6749 §3.1 treats
    /// an empty parameter as omitted).
    ///
    /// # Errors
    /// `invalid_request` when `name` appears more than once.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name {
                if found.is_some() {
                    return Err(OAuthError::invalid_request(format!(
                        "`{name}` must not appear more than once"
                    )));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }

    /// The value of `name`, which must be present.
    ///
    /// # Errors
    /// `invalid_request` when absent, empty or repeated.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?
            .ok_or_else(|| OAuthError::invalid_request(format!("`{name}` is required")))
    }

    /// Whether `name` is present at all (even empty).
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The parameters as pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Encodes the parameters as a form text.
    #[must_use]
    pub fn to_form(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.iter())
            .finish()
    }
}

/// One `name=value` of a form, as `form_urlencoded` decodes it. Most
/// parameters (tokens, ids, grant types) carry neither `%` nor `+`: they
/// are the text itself, and the decoder's passes over every byte (for `+`,
/// for `%`, for UTF-8, on text that is UTF-8 already) are skipped. A
/// segment holds no `&`, so the decoder sees it as it would in the whole.
fn decode_pair(segment: &str) -> (String, String) {
    if memchr::memchr2(b'%', b'+', segment.as_bytes()).is_some()
        && let Some((k, v)) = url::form_urlencoded::parse(segment.as_bytes()).next()
    {
        return (k.into_owned(), v.into_owned());
    }
    let (k, v) = segment.split_once('=').unwrap_or((segment, ""));
    (k.to_owned(), v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn decodes_form_text() {
        let p = Params::from_form("a=1&b=x+y%21&c=").unwrap();
        assert_eq!(p.get("a").unwrap(), Some("1"));
        assert_eq!(p.get("b").unwrap(), Some("x y!"));
        assert_eq!(p.get("c").unwrap(), None, "empty counts as absent");
        assert!(p.contains("c"));
        assert_eq!(p.get("d").unwrap(), None);
        assert_eq!(Params::from_form(&p.to_form()).unwrap(), p);
    }

    /// Form texts made of what matters to the decoder, `%` rare enough
    /// that many segments need no decoding and many do.
    fn form_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            8 => "[a-z0-9_.~-]{1,6}",
            3 => Just("&".to_owned()),
            3 => Just("=".to_owned()),
            3 => Just("+".to_owned()),
            1 => "%[0-9A-Fa-f]{2}",
            1 => "%[0-9A-Fa-f]?",
            1 => "[é\u{1F600} ]",
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    proptest::proptest! {
        /// The same parameters as `form_urlencoded`.
        #[test]
        fn parses_as_form_urlencoded_does(text in form_text()) {
            let expected: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .take(MAX_PARAMS + 1)
                .collect();
            match Params::from_form(&text) {
                Ok(params) => proptest::prop_assert_eq!(params.0, expected),
                Err(_) => proptest::prop_assert!(expected.len() > MAX_PARAMS),
            }
        }
    }

    #[test]
    fn decodes_what_needs_it_and_keeps_what_does_not() {
        let p = Params::from_form("&&token=eyJ.a-b_c~d&x=%E2%82%AC+1&y=a=b&z&%zz=%4").unwrap();
        assert_eq!(p.get("token").unwrap(), Some("eyJ.a-b_c~d"));
        assert_eq!(p.get("x").unwrap(), Some("€ 1"));
        assert_eq!(
            p.get("y").unwrap(),
            Some("a=b"),
            "only the first `=` splits"
        );
        assert!(p.contains("z"));
        assert_eq!(
            p.get("%zz").unwrap(),
            Some("%4"),
            "a bad escape stays as it is"
        );
        assert_eq!(p.0.len(), 5, "empty segments are no parameters");
    }

    #[test]
    fn repeated_parameter_is_invalid_request() {
        let p = Params::from_form("a=1&a=2").unwrap();
        let e = p.get("a").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.contains("`a`"));
    }

    #[test]
    fn missing_required_parameter_is_invalid_request() {
        let e = Params::default().require("code").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert_eq!(e.description, "`code` is required");
    }

    #[test]
    fn oversized_requests_are_refused() {
        assert!(Params::from_form(&"a".repeat(MAX_PARAMS_LEN + 1)).is_err());
        let many = (0..=MAX_PARAMS)
            .map(|i| format!("p{i}=1"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(Params::from_form(&many).is_err());
    }
}
