//! Where a person goes back to after signing in: the page they opened
//! while signed out, carried as `/signin?next=<path>`. Only a path on this
//! server is ever followed; anything else (another host, a scheme, a
//! protocol-relative `//host`, a backslash that some browsers read as a
//! slash) falls back to the dashboard, so the sign-in page can never be
//! made to send someone elsewhere (an open redirect).

/// Where a signed-in person lands when there is no (acceptable) `next`.
pub const DEFAULT_LANDING: &str = "/dashboard";

/// The longest `next` followed: a consent screen's URL carries its OAuth
/// request, which is long but bounded; anything longer is not followed.
pub const MAX_NEXT_BYTES: usize = 2048;

/// `raw` if it is a path on this server: it starts with exactly one `/`,
/// its path holds no `//`, it has no backslash, and it is printable ASCII
/// (no spaces or control characters, so no header splitting) of at most
/// [`MAX_NEXT_BYTES`]. A leading `/` rules out any scheme.
pub fn safe_next(raw: &str) -> Option<&str> {
    let bytes = raw.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NEXT_BYTES || bytes[0] != b'/' {
        return None;
    }
    if !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) || raw.contains('\\') {
        return None;
    }
    let path = raw.split(['?', '#']).next().unwrap_or_default();
    if path.contains("//") {
        return None;
    }
    // Percent-encoded slashes and backslashes in the path: followed as
    // text by browsers, but no reason to accept them.
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return None;
    }
    Some(raw)
}

/// Where to go after signing in: `next` when safe, the dashboard otherwise.
pub fn landing(next: Option<&str>) -> &str {
    next.and_then(safe_next).unwrap_or(DEFAULT_LANDING)
}

/// The sign-in page's URL that comes back to `path` (already checked).
pub fn signin_url(path: Option<&str>) -> String {
    match path.and_then(safe_next) {
        Some(path) => format!(
            "/signin?next={}",
            url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
        ),
        None => "/signin".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_on_this_server_are_followed() {
        for ok in [
            "/",
            "/inbox",
            "/grants",
            "/dashboard#rules",
            "/earnings?x=1",
            "/oauth/authorize?response_type=code&client_id=c&redirect_uri=http%3A%2F%2Flocalhost%2Fcb",
            "/oauth/authorize?redirect_uri=http://localhost/cb",
        ] {
            assert_eq!(safe_next(ok), Some(ok), "{ok}");
            assert_eq!(landing(Some(ok)), ok);
        }
    }

    #[test]
    fn anything_that_could_leave_this_server_is_refused() {
        for bad in [
            "",
            "//evil.example",
            "//evil.example/inbox",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/inbox\\..",
            "https://evil.example",
            "http:/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "inbox",
            " /inbox",
            "/inbox ",
            "/in box",
            "/inbox\r\nSet-Cookie: x=1",
            "/inbox\t",
            "/\u{0}",
            "/caf\u{e9}",
            "/a//b",
            "/%2F%2Fevil.example",
            "/%2fevil.example",
            "/%5cevil.example",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
            assert_eq!(landing(Some(bad)), DEFAULT_LANDING, "{bad:?}");
        }
        assert_eq!(landing(None), DEFAULT_LANDING);
    }

    #[test]
    fn next_is_bounded() {
        let longest = format!("/{}", "a".repeat(MAX_NEXT_BYTES - 1));
        assert_eq!(safe_next(&longest), Some(longest.as_str()));
        let too_long = format!("/{}", "a".repeat(MAX_NEXT_BYTES));
        assert_eq!(safe_next(&too_long), None);
    }

    #[test]
    fn the_signin_url_carries_next_encoded_and_only_when_safe() {
        assert_eq!(signin_url(Some("/inbox")), "/signin?next=%2Finbox");
        assert_eq!(
            signin_url(Some("/oauth/authorize?a=1&b=2")),
            "/signin?next=%2Foauth%2Fauthorize%3Fa%3D1%26b%3D2"
        );
        assert_eq!(signin_url(Some("//evil.example")), "/signin");
        assert_eq!(signin_url(None), "/signin");
    }
}
