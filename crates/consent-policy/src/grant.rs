//! Requests and grants through their lives: how a request reached the
//! person, where it stands, what a grant is, and the lifecycle rules the
//! application layer applies (a request's first status; whether a live
//! grant already covers a new request). Times are given, never read.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::attribute::AttributeKey;
use crate::company::CompanyId;
use crate::decision::Decision;
use crate::duration::GrantDuration;
use crate::money::Money;
use crate::person::PersonId;
use crate::purpose::Purpose;
use crate::request::DataRequest;

/// How a request reached the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// At the consent screen, during an OAuth authorization.
    Interactive,
    /// Through the API; the person decides later in their inbox.
    Async,
}

impl Channel {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Interactive => "interactive",
            Self::Async => "async",
        }
    }
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for the person.
    Pending,
    /// Approved (wholly or partly): a grant exists.
    Approved,
    /// Declined by the person or wholly denied by the policy.
    Denied,
    /// Not decided in time.
    Expired,
    /// The person named their price for it; waiting for the company to
    /// accept it (or for it to lapse with the request).
    Countered,
}

impl RequestStatus {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Countered => "countered",
        }
    }

    /// A request's first status, from the policy's decision and how it
    /// arrived: wholly denied is denied; an asynchronous request wholly
    /// allowed is approved at once; anything else waits for the person
    /// (an interactive one always does: the screen is the answer).
    #[must_use]
    pub fn initial(decision: &Decision, channel: Channel) -> Self {
        if decision.is_fully_denied() {
            Self::Denied
        } else if channel == Channel::Async && decision.is_fully_allowed() {
            Self::Approved
        } else {
            Self::Pending
        }
    }
}

/// A grant: the approved part of a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// Its id.
    pub id: String,
    /// The request it answers.
    pub request_id: String,
    /// Whose data.
    pub person_id: PersonId,
    /// Who may read it.
    pub company_id: CompanyId,
    /// Exactly the attributes granted.
    pub attributes: Vec<AttributeKey>,
    /// For what.
    pub purpose: Purpose,
    /// For how long.
    pub duration: GrantDuration,
    /// At what price.
    pub price: Option<Money>,
    /// Granted at.
    pub created_at: OffsetDateTime,
    /// Ends at.
    pub expires_at: OffsetDateTime,
    /// Revoked at, if revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

impl Grant {
    /// Whether the company may read under this grant at `now`.
    #[must_use]
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// Whether this grant, live at `at`, already covers `request`: the
    /// same purpose, every attribute asked for granted, and a grant made
    /// at `at` for the request's duration would end no later than this
    /// one does (remembering never widens consent).
    #[must_use]
    pub fn covers(&self, request: &DataRequest, at: OffsetDateTime) -> bool {
        let Ok(secs) = i64::try_from(request.duration().as_secs()) else {
            return false;
        };
        self.is_live(at)
            && self.purpose == request.purpose()
            && request
                .attributes()
                .iter()
                .all(|k| self.attributes.contains(k))
            && at + Duration::seconds(secs) <= self.expires_at
    }

    /// The grant as the request it allows (for deciding a read again).
    ///
    /// # Errors
    /// A grant that could never have been a request (no attribute, too
    /// many, or one twice).
    pub fn as_request(&self) -> Result<DataRequest, crate::RequestError> {
        DataRequest::new(
            self.attributes.clone(),
            self.purpose,
            self.duration.clone(),
            self.price,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Profile, decide};

    fn request(keys: &[&str], duration: &str) -> DataRequest {
        let keys = keys
            .iter()
            .map(|k| AttributeKey::parse(k).unwrap())
            .collect();
        DataRequest::new(
            keys,
            Purpose::ServiceProvision,
            GrantDuration::parse(duration).unwrap(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn a_first_status_follows_the_decision_and_the_channel() {
        let profile = Profile::default(); // ask me
        let acme = CompanyId::parse("acme").unwrap();
        for (keys, interactive, async_) in [
            (
                &["display_name"][..],
                RequestStatus::Pending,
                RequestStatus::Approved,
            ),
            (
                &["email"][..],
                RequestStatus::Pending,
                RequestStatus::Pending,
            ),
            (
                &["birth_date"][..],
                RequestStatus::Denied,
                RequestStatus::Denied,
            ),
            (
                &["display_name", "birth_date"][..],
                RequestStatus::Pending,
                RequestStatus::Pending,
            ),
        ] {
            let decision = decide(&profile, &acme, &request(keys, "P1D"));
            assert_eq!(
                RequestStatus::initial(&decision, Channel::Interactive),
                interactive,
                "{keys:?}"
            );
            assert_eq!(
                RequestStatus::initial(&decision, Channel::Async),
                async_,
                "{keys:?}"
            );
        }
    }

    #[test]
    fn a_grant_covers_only_what_it_holds_for_no_longer_than_it_lives() {
        let at = OffsetDateTime::UNIX_EPOCH + Duration::days(10_000);
        let grant = Grant {
            id: "g".into(),
            request_id: "r".into(),
            person_id: PersonId::new("p"),
            company_id: CompanyId::parse("acme").unwrap(),
            attributes: vec![
                AttributeKey::parse("email").unwrap(),
                AttributeKey::parse("display_name").unwrap(),
            ],
            purpose: Purpose::ServiceProvision,
            duration: GrantDuration::parse("P30D").unwrap(),
            price: None,
            created_at: at,
            expires_at: at + Duration::days(30),
            revoked_at: None,
        };
        assert!(grant.covers(&request(&["email"], "P30D"), at));
        assert!(grant.covers(
            &request(&["email", "display_name"], "P7D"),
            at + Duration::days(1)
        ));
        assert!(
            !grant.covers(&request(&["email"], "P30D"), at + Duration::days(1)),
            "outlives it"
        );
        assert!(
            !grant.covers(&request(&["email", "phone"], "P1D"), at),
            "asks more"
        );
        let mut other = request(&["email"], "P1D");
        other = DataRequest::new(
            other.attributes().to_vec(),
            Purpose::Marketing,
            other.duration().clone(),
            None,
        )
        .unwrap();
        assert!(!grant.covers(&other, at), "another purpose");
        let revoked = Grant {
            revoked_at: Some(at),
            ..grant.clone()
        };
        assert!(!revoked.covers(&request(&["email"], "P1D"), at));
        assert!(
            !grant.covers(&request(&["email"], "P1D"), at + Duration::days(30)),
            "ended"
        );
        assert_eq!(
            grant.as_request().unwrap().attributes(),
            grant.attributes.as_slice()
        );
    }
}
