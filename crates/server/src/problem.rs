//! RFC 9457 problem details: every error of the JSON API, in one place.
//!
//! Each kind of error has a stable `type` URI,
//! `{public url}/docs/problems#<kind>`, that clients may match on and that
//! leads to the kind's description ([`crate::problem_types`], made absolute
//! on the way out by [`with_absolute_type`]); `title` is
//! the kind in words, `detail` this occurrence, and `field` (when an input
//! was wrong) names the input.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details document (RFC 9457).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://apiome.example/docs/problems#invalid-input",
    "title": "Invalid input",
    "status": 422,
    "detail": "a page has 1 to 100 items",
    "field": "limit"
}))]
pub struct Problem {
    /// Stable identifier of the kind of problem,
    /// `{public url}/docs/problems#<kind>`: the page there describes it.
    #[serde(rename = "type")]
    #[schema(
        format = "uri",
        example = "http://127.0.0.1:8080/docs/problems#not-found"
    )]
    pub kind: String,
    /// The kind of problem, in words.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// The input at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `insufficient-funds`: how much more the wallet needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Box<Amount>>,
    /// For `contact-not-now`: the first time the message could be
    /// delivered (RFC 3339), if nothing changes.
    // Boxed: a problem is an `Err` everywhere, and stays small.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_allowed_at: Option<Box<String>>,
}

/// An amount of money as the API writes it: integer micro-units (millionths
/// of one unit) of an ISO 4217 currency, the shape of an offer.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({"amount_micros": 50000, "currency": "EUR", "display": "0.05 EUR"}))]
pub struct Amount {
    /// Micro-units: 50000 is 0.05 of the currency.
    #[schema(example = 50000)]
    pub amount_micros: u64,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
    /// The amount in words, e.g. `0.05 EUR`.
    #[schema(example = "0.05 EUR")]
    pub display: String,
}

impl From<&consent_policy::Money> for Amount {
    fn from(money: &consent_policy::Money) -> Self {
        Amount {
            amount_micros: money.amount_micros(),
            currency: money.currency().code().to_owned(),
            display: money.to_string(),
        }
    }
}

/// The page that describes every problem type; a type URI is this page
/// with the kind as fragment, made absolute by [`with_absolute_type`].
pub const TYPES_PAGE: &str = "/docs/problems";

/// Gives a problem answer's `type` this server's public URL, so it is the
/// absolute URI RFC 9457 recommends and leads to the kind's description.
/// Reads the body of `application/problem+json` answers only (small, and
/// made by [`Problem`] however the handler returned it: as an error, an
/// idempotent replay or an OAuth bearer refusal); any other answer passes
/// untouched.
pub async fn with_absolute_type<B>(
    response: actix_web::dev::ServiceResponse<B>,
    public_url: &url::Url,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::EitherBody<B>>, actix_web::Error>
where
    B: actix_web::body::MessageBody,
{
    let is_problem = response
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if !is_problem {
        return Ok(response.map_into_left_body());
    }
    let (request, answer) = response.into_parts();
    let (head, body) = answer.into_parts();
    let body = actix_web::body::to_bytes_limited(body, 64 * 1024)
        .await
        .map_err(actix_web::error::ErrorInternalServerError)?
        .map_err(|_| actix_web::error::ErrorInternalServerError("unreadable problem body"))?;
    let relative = format!("\"type\":\"{TYPES_PAGE}#");
    let body = match std::str::from_utf8(&body) {
        Ok(text) if text.contains(&relative) => {
            let base = public_url.as_str().trim_end_matches('/');
            let absolute = format!("\"type\":\"{base}{TYPES_PAGE}#");
            actix_web::web::Bytes::from(text.replacen(&relative, &absolute, 1))
        }
        _ => body,
    };
    let answer = head.set_body(body).map_into_boxed_body();
    Ok(actix_web::dev::ServiceResponse::new(request, answer).map_into_right_body())
}

impl Problem {
    /// A problem of `kind` (a short kebab-case slug, documented in
    /// [`crate::problem_types::PROBLEM_TYPES`]) with the given status.
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        debug_assert!(
            crate::problem_types::find(kind).is_some_and(|t| t.status == status.as_u16()),
            "problem kind {kind:?} with {status} is not documented in problem_types"
        );
        Problem {
            kind: format!("{TYPES_PAGE}#{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            missing: None,
            next_allowed_at: None,
        }
    }

    /// Says how much money is missing.
    pub fn with_missing(mut self, missing: &consent_policy::Money) -> Problem {
        self.missing = Some(Box::new(missing.into()));
        self
    }

    /// Names the input at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }

    /// 404: nothing at this path.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 400: a body, query or path that could not be read.
    pub fn malformed(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Malformed request",
            detail,
        )
    }

    /// 503: the database does not answer.
    pub fn database_unavailable() -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "Database unavailable",
            "the database did not answer; try again shortly",
        )
    }

    /// 500: a fault of ours. The detail never carries internals.
    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed to handle this request; it has been logged",
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.title, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .content_type(PROBLEM_JSON)
            .json(self)
    }
}

impl Problem {
    /// 422: an input that was read but is not acceptable; `field` names it.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "Invalid input",
            detail,
        )
        .with_field(field)
    }

    /// 409: the request conflicts with what is stored.
    pub fn conflict(kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, kind, title, detail)
    }
}

impl From<store::StoreError> for Problem {
    fn from(error: store::StoreError) -> Problem {
        use store::StoreError as E;
        let detail = error.to_string();
        match error {
            E::Unreachable { .. } => Problem::database_unavailable(),
            E::HandleTaken(_) => {
                Problem::conflict("handle-taken", "Handle taken", detail).with_field("handle")
            }
            E::PersonNotFound => Problem::not_found(detail),
            E::CompanyNotFound(_) => Problem::not_found(detail).with_field("company_id"),
            E::AttributeNotFound(_) => Problem::not_found(detail).with_field("key"),
            E::RuleNotFound(_) => Problem::not_found(detail).with_field("id"),
            E::PasskeyNotFound => Problem::not_found(detail).with_field("id"),
            E::ValueTooLarge { .. } => Problem::invalid("value", detail),
            E::BadRuleOrder { .. } => Problem::invalid("order", detail),
            E::TooManyAttributes { .. }
            | E::TooManyRules { .. }
            | E::TooManyBlocked { .. }
            | E::TooManyPasskeys { .. }
            | E::TooManyVerifications { .. } => {
                Problem::conflict("limit-reached", "Limit reached", detail)
            }
            E::PasskeyTaken => {
                Problem::conflict("passkey-taken", "Passkey registered already", detail)
            }
            E::LastWayIn => Problem::conflict("last-way-in", "Last way in", detail),
            E::CompanyExists(_) => Problem::conflict("company-exists", "Company exists", detail),
            E::RequestNotFound(_) | E::GrantNotFound(_) | E::ReceiptNotFound(_) => {
                Problem::not_found(detail).with_field("id")
            }
            E::RequestNotPending(_) => {
                Problem::conflict("request-decided", "Request decided already", detail)
            }
            E::GrantNotLive(_) => {
                Problem::conflict("grant-over", "Grant revoked or expired", detail)
            }
            E::NotGrantable(_) | E::NothingToGrant => Problem::invalid("attributes", detail),
            E::NotCounterable(_) => {
                Problem::conflict("not-counterable", "Request cannot be countered", detail)
            }
            E::CounterCurrency(_) => Problem::invalid("price.currency", detail),
            E::CounterNotAbove(_) => Problem::invalid("price.amount_micros", detail),
            E::NotCountered(_) => {
                Problem::conflict("no-counter", "No counter-offer waiting", detail)
            }
            E::InsufficientFunds { missing, .. } => Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient-funds",
                "The wallet cannot cover the offer",
                format!("{detail}; fund the wallet with at least {missing} more, or offer less"),
            )
            .with_field("authorization_details.offer")
            .with_missing(&missing),
            E::InsufficientEarnings { missing, .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "insufficient-earnings",
                "More than the earnings hold",
                detail,
            )
            .with_field("amount.amount_micros")
            .with_missing(&missing),
            E::NoEarningsIn(_) => Problem::invalid("amount.currency", detail),
            E::PayoutPending(_) => {
                Problem::conflict("payout-pending", "A payout is waiting", detail)
                    .with_field("amount.currency")
            }
            E::PayoutNotFound(_) => Problem::not_found(detail).with_field("id"),
            E::PayoutSettled { .. } => {
                Problem::conflict("payout-settled", "Payout settled already", detail)
            }
            E::ZeroAmount => Problem::invalid("amount", detail),
            E::AmountOutOfRange => Problem::new(
                StatusCode::BAD_REQUEST,
                "amount-out-of-range",
                "Amount out of range",
                detail,
            )
            .with_field("amount"),
            E::TransferIdReused(_) => {
                Problem::conflict("transfer-id-reused", "Transfer id used before", detail)
            }
            other => {
                tracing::error!(error = %other, "store error");
                Problem::internal()
            }
        }
    }
}

impl From<broker::BrokerError> for Problem {
    /// The one mapping of a use case's refusal to a problem (a wait's
    /// `Retry-After` header is added by the routes that answer it).
    fn from(error: broker::BrokerError) -> Problem {
        use broker::BrokerError as E;
        let detail = error.to_string();
        match error {
            E::Store(e) => e.into(),
            E::GrantNotLive | E::SubjectMismatch => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-token",
                "Invalid access token",
                detail,
            ),
            E::InvalidValue(detail) => Problem::invalid("value", detail),
            E::PolicyChurn => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "try-again",
                "Try again",
                detail,
            ),
            E::CeremonyExpired => Problem::new(
                StatusCode::BAD_REQUEST,
                "ceremony-expired",
                "Challenge expired or used",
                detail,
            )
            .with_field("ceremony_id"),
            E::SignInTooOld => Problem::new(
                StatusCode::FORBIDDEN,
                "recent-sign-in-required",
                "Sign in again",
                detail,
            ),
            // Not a credential at all: the request is malformed, whoever sent it.
            E::PasskeyRejected(identity::PasskeyError::Malformed(_)) => Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "Malformed request",
                detail,
            )
            .with_field("credential"),
            E::PasskeyRejected(_) => Problem::new(
                StatusCode::UNAUTHORIZED,
                "passkey-rejected",
                "Passkey not accepted",
                detail,
            )
            .with_field("credential"),
            E::Throttled { retry_after_secs } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-attempts",
                "Too many attempts",
                format!("wait {retry_after_secs} s before trying again"),
            ),
            E::Busy { retry_after_secs } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Busy",
                format!("wait {retry_after_secs} s before trying again"),
            ),
            E::ConsentExpired => Problem::new(
                StatusCode::BAD_REQUEST,
                "consent-expired",
                "This consent screen has expired or was answered",
                "go back to the company's site and start again",
            ),
            E::IdempotencyKeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                detail,
            )
            .with_field("Idempotency-Key"),
            E::IdempotencyKeyInFlight => {
                Problem::conflict("idempotency-key-in-flight", "Request still running", detail)
                    .with_field("Idempotency-Key")
            }
            E::PayoutAmount(refusal) => {
                let field = match refusal {
                    consent_policy::PayoutAmountError::BelowMinimum(_) => "amount.amount_micros",
                    consent_policy::PayoutAmountError::TestMoney => "amount.currency",
                };
                Problem::invalid(field, detail)
            }
            E::Invalid { field, .. } => Problem::invalid(field, detail),
            E::UseNotCovered { .. } => Problem::new(
                StatusCode::FORBIDDEN,
                "use-not-covered",
                "The grant's purpose does not cover this use",
                detail,
            )
            .with_field("kind"),
            E::MessageRefused { refusal, .. } => message_refused(refusal, detail),
            E::Suspended => Problem::new(
                StatusCode::FORBIDDEN,
                "account-suspended",
                "Account suspended",
                detail,
            ),
            E::SessionEnded => crate::auth::unauthenticated(),
            E::EarningsRemain(_) => Problem::conflict("earnings-remain", "Earnings remain", detail)
                .with_field("waive_earnings"),
            E::UnknownCompany(_)
            | E::UnknownAuditor(_)
            | E::ClientGone { .. }
            | E::CompanyHoldsValue(_) => Problem::conflict("refused", "Refused", detail),
            // The OAuth endpoints answer `OAuth` refusals themselves
            // (`oauth_server::OAuthReply`); one reaching a problem is a bug.
            E::Corrupt(_) | E::Internal(_) | E::NoRandomness | E::OAuth(_) => {
                tracing::error!(error = %detail, "a use case failed");
                Problem::internal()
            }
        }
    }
}

fn message_refused(refusal: broker::messages::Refusal, detail: String) -> Problem {
    use broker::messages::Refusal as R;
    match refusal {
        R::GrantNotLive => Problem::conflict("grant-over", "Grant revoked or expired", detail)
            .with_field("grant_id"),
        R::OutsideHours(next) | R::OverWeeklyCap(next) => {
            let mut problem =
                Problem::conflict("contact-not-now", "Not now, on the person's terms", detail);
            problem.next_allowed_at = next
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .map(Box::new);
            problem
        }
        R::Purpose(_) => Problem::new(
            StatusCode::FORBIDDEN,
            "contact-refused",
            "The person does not allow this contact",
            detail,
        )
        .with_field("grant_id"),
        R::Blocked | R::Unsubscribed | R::NoContact | R::NoChannel | R::NoVerifiedAddress => {
            Problem::new(
                StatusCode::FORBIDDEN,
                "contact-refused",
                "The person does not allow this contact",
                detail,
            )
        }
    }
}
