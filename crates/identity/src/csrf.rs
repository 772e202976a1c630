//! CSRF tokens bound to a session: HMAC-SHA256 of a fixed label under the
//! session token as key. The server stores nothing more; an attacker who
//! cannot read the session cookie cannot compute the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const LABEL: &[u8] = b"apiome csrf v1";

fn mac(session_token: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(session_token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(LABEL);
    mac
}

/// The CSRF token for forms and cookie-authenticated JSON calls of the
/// session whose token is `session_token`.
pub fn csrf_token(session_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(session_token).finalize().into_bytes())
}

/// Whether `presented` is the session's CSRF token (constant-time).
pub fn csrf_token_matches(session_token: &str, presented: &str) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(presented) else {
        return false;
    };
    mac(session_token).verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_its_session_only() {
        let token = csrf_token("session-a");
        assert!(csrf_token_matches("session-a", &token));
        assert!(!csrf_token_matches("session-b", &token));
        assert!(!csrf_token_matches("session-a", ""));
        assert!(!csrf_token_matches("session-a", "not base64 !"));
        let mut tampered = token.into_bytes();
        tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
        assert!(!csrf_token_matches(
            "session-a",
            std::str::from_utf8(&tampered).unwrap()
        ));
    }
}
