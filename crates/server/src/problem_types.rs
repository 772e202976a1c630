//! Every problem `type` the API answers with, described for the page
//! `/docs/problems` that each type URI points into
//! (`{public url}/docs/problems#<kind>`, RFC 9457 §3.1.1).

/// One kind of problem, as documented.
#[derive(Debug, Clone, Copy)]
pub struct ProblemType {
    /// The slug: the type URI's fragment.
    pub kind: &'static str,
    /// The HTTP status it is answered with.
    pub status: u16,
    /// What it means and what to do about it.
    pub description: &'static str,
}

const fn t(kind: &'static str, status: u16, description: &'static str) -> ProblemType {
    ProblemType {
        kind,
        status,
        description,
    }
}

/// The closed list, by status then kind. A test checks that every kind the
/// code answers with is here.
pub const PROBLEM_TYPES: &[ProblemType] = &[
    t(
        "malformed-request",
        400,
        "The body, query or path could not be read: not JSON, a missing or unknown field, a wrong type. `detail` says where. Fix the request; retrying the same one fails the same way.",
    ),
    t(
        "amount-out-of-range",
        400,
        "An amount outside what the books can hold (0 to 9,223,372,036,854,775,807 micro-units). `field` names it.",
    ),
    t(
        "invalid-amount",
        400,
        "An offer amount that is negative or too large. `field` names it.",
    ),
    t(
        "ceremony-expired",
        400,
        "The passkey challenge (`ceremony_id`) is older than five minutes or was answered already. Start the ceremony again.",
    ),
    t(
        "consent-expired",
        400,
        "The consent screen expired or was answered already. Go back to the company's site and start again.",
    ),
    t(
        "invalid-authorization-request",
        400,
        "The authorization request shown on the consent screen is not valid (unknown client, redirect URI not registered exactly, no PKCE S256). It cannot be redirected back to the company.",
    ),
    t(
        "invalid-logout-request",
        400,
        "An OpenID Connect sign-out link (`/oauth/logout`) that is not valid: no `id_token_hint`, one that is not an ID token of ours, a `client_id` that is not its audience, or a `post_logout_redirect_uri` not registered exactly. Nothing was signed out and nothing is redirected.",
    ),
    t(
        "out-of-range",
        400,
        "A ledger index or tree size that is zero, reversed or otherwise outside what the request allows.",
    ),
    t(
        "webhook-url-refused",
        400,
        "The webhook URL is not `https://`, or points at a private, loopback or link-local address.",
    ),
    t(
        "unauthenticated",
        401,
        "No credential, or one that is not valid: a missing session cookie on the person's API, or a missing `Authorization: Bearer` header on a company's. Sign in, or get an access token.",
    ),
    t(
        "invalid-token",
        401,
        "The access token is expired, malformed, signed by a key apiome does not know, or its grant is revoked, expired or blocked. Get a new token; a revoked grant needs a new request.",
    ),
    t(
        "invalid-dpop-proof",
        401,
        "The `DPoP` proof (RFC 9449) sent with a DPoP-bound token is missing, malformed, signed by another key than the token is bound to, for another method or URL, more than 60 s old, for another token (`ath`), or was used before. Sign a new proof for every request.",
    ),
    t(
        "use-dpop-nonce",
        401,
        "This company's DPoP proofs must carry the server's nonce, or the nonce sent is stale. Sign a new proof with the `nonce` from the `DPoP-Nonce` response header.",
    ),
    t(
        "passkey-rejected",
        401,
        "The authenticator's answer did not verify: wrong credential, wrong origin, replayed counter or a bad signature.",
    ),
    t(
        "sign-in-failed",
        401,
        "The handle, password or second factor is wrong. The answer is the same whether or not the handle exists.",
    ),
    t(
        "insufficient-funds",
        402,
        "The company's wallet cannot cover the offer. `missing` says how much more it needs; fund the wallet or offer less.",
    ),
    t(
        "bad-unsubscribe-token",
        403,
        "The unsubscribe link is not one apiome made, or was altered. Change notification settings on the notifications page instead.",
    ),
    t(
        "insufficient-scope",
        403,
        "The access token is valid but does not carry the scope this endpoint needs (e.g. `ledger:read` for the ledger's entries).",
    ),
    t(
        "account-suspended",
        403,
        "The operator suspended this account: it cannot sign in, and companies read nothing of it. The person should contact the operator.",
    ),
    t(
        "csrf",
        403,
        "A form or state-changing call without the session's CSRF token, or from another origin. Reload the page.",
    ),
    t(
        "recent-sign-in-required",
        403,
        "This change (a passkey, recovery codes) needs a sign-in within the last five minutes. Sign in again, then retry.",
    ),
    t(
        "use-not-covered",
        403,
        "A reported use (`kind`) that the grant's purpose does not cover: `sold` needs purpose `resale`, `shared` needs `resale` or `legal_obligation`, `aggregated` needs `analytics`, `research`, `fraud_prevention` or `resale`. The attempt is recorded (a `use_reported` ledger entry with `accepted: false`, shown to the person).",
    ),
    t(
        "contact-refused",
        403,
        "A message (`POST /v1/messages`) the person does not allow, and will not while nothing changes: they block the company, the grant's purpose is not `marketing` or `service_provision`, they ended this company's contact from a mail, they allow no contact or no channel apiome delivers on, or they cannot be reached. The refusal is recorded (a `message_refused` ledger entry) and shown to the person; do not retry.",
    ),
    t(
        "beyond-the-log",
        404,
        "A ledger index or tree size beyond the latest signed checkpoint. Take sizes from `GET /v1/ledger/checkpoint`.",
    ),
    t(
        "not-found",
        404,
        "Nothing with that id exists for this caller. A person's and a company's ids are private to them: another's answers the same way.",
    ),
    t(
        "handle-taken",
        409,
        "Another account has this handle. Choose another.",
    ),
    t(
        "limit-reached",
        409,
        "A per-person limit (attributes, rules, blocked companies, passkeys, verification mails) is reached. Remove one first.",
    ),
    t(
        "passkey-taken",
        409,
        "This passkey is registered already, to this or another account.",
    ),
    t(
        "last-way-in",
        409,
        "This would leave the account with no way to sign in (no password and no passkey). Add another way in first.",
    ),
    t(
        "company-exists",
        409,
        "A company with this client id exists already.",
    ),
    t(
        "request-decided",
        409,
        "The request was decided already, or expired.",
    ),
    t("grant-over", 409, "The grant was revoked or expired."),
    t(
        "not-counterable",
        409,
        "Only a waiting request made with POST /v1/requests or CIBA that came with an offer can be countered; a consent-screen request is answered on the screen.",
    ),
    t(
        "no-counter",
        409,
        "The request has no counter-offer waiting: none was made, it was accepted already, or it lapsed with the request.",
    ),
    t(
        "payout-pending",
        409,
        "A payout in this currency is still waiting for the operator to send it. One payout per currency waits at a time: wait until it is sent or failed (`GET /v1/me/payouts`).",
    ),
    t(
        "earnings-remain",
        409,
        "Erasing the account would leave earnings behind that were not waived. Withdraw them first (`POST /v1/me/payouts`), or send `waive_earnings: true` to leave them behind (an `earnings_waived` ledger entry records the amount).",
    ),
    t(
        "payout-settled",
        409,
        "The payout was confirmed or failed already; only a pending payout can be.",
    ),
    t(
        "transfer-id-reused",
        409,
        "This transfer id was used before with another amount or wallet; funding is idempotent per id.",
    ),
    t(
        "idempotency-key-in-flight",
        409,
        "A request with this `Idempotency-Key` is still running. Wait and retry; the retry gets the first one's answer.",
    ),
    t(
        "refused",
        409,
        "An operator's act that cannot apply here (an unknown or deleted company or auditor, or a company that still holds grants or money). Only the command line makes these; the API never answers with it.",
    ),
    t(
        "no-webhook",
        409,
        "The company has no webhook URL to call. Set one with `PUT /v1/webhook` first.",
    ),
    t(
        "no-notification-address",
        409,
        "There is no notification address to verify. Set one first.",
    ),
    t(
        "contact-not-now",
        409,
        "A message (`POST /v1/messages`) sent outside the hours the person allows (in their time zone) or over their weekly cap. `next_allowed_at` (RFC 3339, also as `Retry-After` seconds) is the first time it could be delivered if nothing changes. The refusal is recorded and shown to the person.",
    ),
    t(
        "method-not-allowed",
        405,
        "The path exists but does not answer this method; `Allow` lists the methods it does.",
    ),
    t("payload-too-large", 413, "The body is over the size limit."),
    t(
        "invalid-input",
        422,
        "An input that was read but is not acceptable: an unknown attribute or purpose, a value of the wrong shape, a duration longer than the person accepts. `field` names it.",
    ),
    t(
        "insufficient-earnings",
        422,
        "A payout larger than what the person can withdraw: posted earnings less what was paid out or is waiting to be. Offers not yet approved are not earnings. `missing` says how much more it would need; `field` names the amount.",
    ),
    t(
        "idempotency-key-reused",
        422,
        "This `Idempotency-Key` was used with a different body. Use a new key for a new request.",
    ),
    t(
        "rate-limited",
        429,
        "Over the caller's rate. Wait the seconds in `Retry-After`.",
    ),
    t(
        "too-many-attempts",
        429,
        "Too many sign-in attempts for this account or address. Wait the seconds in `Retry-After`.",
    ),
    t(
        "internal",
        500,
        "A fault of apiome's. It has been logged with the response's `X-Request-Id`; quote it when reporting.",
    ),
    t(
        "database-unavailable",
        503,
        "The database did not answer. Retry shortly.",
    ),
    t(
        "busy",
        503,
        "The server is at its limit for this kind of work (e.g. password hashing). Wait the seconds in `Retry-After`.",
    ),
    t(
        "try-again",
        503,
        "The person's policy changed while the read was answered; nothing was disclosed. Retry at once.",
    ),
];

/// The documented type of `kind`, if there is one.
pub fn find(kind: &str) -> Option<&'static ProblemType> {
    PROBLEM_TYPES.iter().find(|t| t.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique_slugs() {
        for (i, t) in PROBLEM_TYPES.iter().enumerate() {
            assert!(
                t.kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                t.kind
            );
            assert!(
                PROBLEM_TYPES[..i].iter().all(|o| o.kind != t.kind),
                "{}",
                t.kind
            );
            assert!((400..600).contains(&t.status), "{}", t.kind);
        }
    }

    /// The (status, kind) pairs of the problems made in `text`: by `new`
    /// with a status constant, or by `conflict` (409).
    fn kinds_in(text: &str) -> Vec<(u16, &str)> {
        let mut kinds = Vec::new();
        for (at, _) in text.match_indices("Problem::") {
            let rest = &text[at + "Problem::".len()..];
            let (status, rest) = if let Some(rest) = rest.strip_prefix("new(") {
                let rest = rest.trim_start();
                let Some(rest) = rest.strip_prefix("StatusCode::") else {
                    continue;
                };
                let Some(comma) = rest.find(',') else {
                    continue;
                };
                (status_named(&rest[..comma]), &rest[comma + 1..])
            } else if let Some(rest) = rest.strip_prefix("conflict(") {
                (409, rest)
            } else {
                continue;
            };
            if let Some(literal) = rest.trim_start().strip_prefix('"')
                && let Some(end) = literal.find('"')
            {
                kinds.push((status, &literal[..end]));
            }
        }
        kinds
    }

    fn status_named(name: &str) -> u16 {
        match name {
            "BAD_REQUEST" => 400,
            "UNAUTHORIZED" => 401,
            "PAYMENT_REQUIRED" => 402,
            "FORBIDDEN" => 403,
            "NOT_FOUND" => 404,
            "METHOD_NOT_ALLOWED" => 405,
            "CONFLICT" => 409,
            "PAYLOAD_TOO_LARGE" => 413,
            "UNPROCESSABLE_ENTITY" => 422,
            "TOO_MANY_REQUESTS" => 429,
            "INTERNAL_SERVER_ERROR" => 500,
            "SERVICE_UNAVAILABLE" => 503,
            other => panic!("add StatusCode::{other} to status_named"),
        }
    }

    /// Every kind the code answers with (a string literal after
    /// `Problem::new` with a status constant, or `Problem::conflict`) is
    /// documented, with the status it is answered with.
    #[test]
    fn every_kind_in_the_code_is_documented() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut seen = 0;
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (status, kind) in kinds_in(&text) {
                        seen += 1;
                        let documented = find(kind).unwrap_or_else(|| {
                            panic!(
                                "{}: problem kind {kind:?} is not in PROBLEM_TYPES",
                                path.display()
                            )
                        });
                        assert_eq!(
                            documented.status,
                            status,
                            "{}: {kind:?} is answered with another status than documented",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(seen > 30, "the scan found only {seen} kinds");
    }
}
