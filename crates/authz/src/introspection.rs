//! Token introspection responses (RFC 7662) and the token kinds of revocation (RFC 7009).

use consent_policy::DataRequest;
use serde::{Serialize, Serializer};

use crate::client::ClientId;
use crate::refresh::{RefreshRecord, RefreshStatus};
use crate::time::UnixTime;
use crate::token::AccessTokenClaims;

/// An introspection answer: `{"active": false}` and nothing else, or the
/// facts of an active token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntrospectionResponse {
    /// Unknown, expired, revoked, malformed, or someone else's token.
    Inactive,
    /// A live token.
    Active(Box<ActiveToken>),
}

/// What introspection says about an active token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveToken {
    /// Always true.
    pub active: bool,
    /// Space-separated scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client the token was issued to.
    pub client_id: String,
    /// The subject (pairwise for a person).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issue time, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// The issuer.
    pub iss: String,
    /// The audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    pub token_type: String,
    /// The granted `apiome_data` entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Vec<DataRequest>>,
    /// The grant behind the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The token's unique id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The DPoP key a bound token needs (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<crate::token::Confirmation>,
}

impl IntrospectionResponse {
    /// The answer for a verified access token, asked about by `caller`.
    ///
    /// Call it only after [`crate::token::KeySet::verify`] succeeded and the
    /// grant is still live. A client learns only about its own tokens:
    /// anyone else gets `Inactive`, so one company cannot read another's
    /// pairwise subjects.
    #[must_use]
    pub fn for_access_token(claims: &AccessTokenClaims, caller: &ClientId) -> Self {
        if claims.client_id != caller.as_str() {
            return Self::Inactive;
        }
        Self::Active(Box::new(ActiveToken {
            active: true,
            scope: claims.scope.clone(),
            client_id: claims.client_id.clone(),
            sub: Some(claims.sub.clone()),
            exp: claims.exp,
            iat: Some(claims.iat),
            iss: claims.iss.clone(),
            aud: Some(claims.aud.clone()),
            token_type: if claims.cnf.is_some() {
                "DPoP"
            } else {
                "Bearer"
            }
            .to_owned(),
            authorization_details: claims.authorization_details.clone(),
            grant_id: claims.grant_id.clone(),
            jti: Some(claims.jti.clone()),
            cnf: claims.cnf.clone(),
        }))
    }

    /// The answer for a stored refresh token, asked about by `caller` at
    /// `now`; `subject` is the pairwise subject of the grant's person.
    /// Inactive unless it is active, unexpired and the caller's.
    #[must_use]
    pub fn for_refresh_token(
        record: &RefreshRecord,
        caller: &ClientId,
        issuer: &str,
        subject: Option<&str>,
        now: UnixTime,
    ) -> Self {
        if record.status != RefreshStatus::Active
            || record.client_id != *caller
            || now >= record.expires_at
        {
            return Self::Inactive;
        }
        Self::Active(Box::new(ActiveToken {
            active: true,
            scope: None,
            client_id: record.client_id.as_str().to_owned(),
            sub: subject.map(str::to_owned),
            exp: record.expires_at.as_secs(),
            iat: None,
            iss: issuer.to_owned(),
            aud: None,
            token_type: "refresh_token".to_owned(),
            authorization_details: None,
            grant_id: Some(record.grant_id.clone()),
            jti: None,
            cnf: None,
        }))
    }

    /// Whether the token is active.
    #[must_use]
    pub const fn is_active(&self) -> bool {
        matches!(self, Self::Active(_))
    }
}

impl Serialize for IntrospectionResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Inactive => serde_json::json!({ "active": false }).serialize(serializer),
            Self::Active(token) => token.serialize(serializer),
        }
    }
}

/// The `token_type_hint` of introspection and revocation requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// Reads a hint; unknown hints are ignored (`None`), as RFC 7009 §2.1 allows.
    #[must_use]
    pub fn parse(text: Option<&str>) -> Option<Self> {
        match text? {
            "access_token" => Some(Self::AccessToken),
            "refresh_token" => Some(Self::RefreshToken),
            _ => None,
        }
    }

    /// What a token looks like, whatever the hint says: a JWT has three
    /// dot-separated parts; our refresh tokens have none.
    #[must_use]
    pub fn of(token: &str) -> Self {
        if token.split('.').count() == 3 {
            Self::AccessToken
        } else {
            Self::RefreshToken
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::random::PredictableRandom;
    use crate::refresh::FamilyId;
    use crate::token_hash::TokenHash;

    fn claims(client: &ClientId) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://as.example".into(),
            sub: "subj".into(),
            aud: "https://as.example/v1".into(),
            client_id: client.as_str().into(),
            iat: 100,
            exp: 700,
            jti: "j".into(),
            scope: Some("email".into()),
            authorization_details: None,
            grant_id: Some("g".into()),
            cnf: None,
        }
    }

    #[test]
    fn a_dpop_bound_token_is_introspected_as_dpop_with_its_key() {
        let c = client(1);
        let bound = claims(&c).bound_to(Some("thumb"));
        let IntrospectionResponse::Active(active) =
            IntrospectionResponse::for_access_token(&bound, &c)
        else {
            panic!("active");
        };
        assert_eq!(active.token_type, "DPoP");
        let json = serde_json::to_value(&*active).unwrap();
        assert_eq!(json["cnf"], serde_json::json!({"jkt": "thumb"}));
        let IntrospectionResponse::Active(plain) =
            IntrospectionResponse::for_access_token(&claims(&c), &c)
        else {
            panic!("active");
        };
        assert_eq!(plain.token_type, "Bearer");
        assert!(serde_json::to_value(&*plain).unwrap().get("cnf").is_none());
    }

    fn client(seed: u64) -> ClientId {
        ClientId::generate(&mut PredictableRandom::new(seed)).unwrap()
    }

    #[test]
    fn inactive_is_only_active_false() {
        assert_eq!(
            serde_json::to_value(IntrospectionResponse::Inactive).unwrap(),
            json!({"active": false})
        );
    }

    #[test]
    fn active_access_token_lists_its_facts() {
        let c = client(1);
        let r = IntrospectionResponse::for_access_token(&claims(&c), &c);
        assert!(r.is_active());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["active"], true);
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["sub"], "subj");
        assert_eq!(v["grant_id"], "g");
        assert_eq!(v["scope"], "email");
        assert_eq!(v["exp"], 700);
        assert_eq!(v["aud"], "https://as.example/v1");
        assert!(v.get("authorization_details").is_none());
    }

    #[test]
    fn another_clients_token_is_inactive() {
        let r = IntrospectionResponse::for_access_token(&claims(&client(1)), &client(2));
        assert_eq!(r, IntrospectionResponse::Inactive);
    }

    #[test]
    fn refresh_token_is_active_only_while_live_and_the_callers() {
        let c = client(1);
        let record = RefreshRecord {
            family_id: FamilyId::from_u128(1),
            token_hash: TokenHash::of("t"),
            status: RefreshStatus::Active,
            client_id: c.clone(),
            grant_id: "g".into(),
            expires_at: UnixTime::from_secs(500),
            openid: None,
        };
        let now = UnixTime::from_secs(100);
        let r = IntrospectionResponse::for_refresh_token(
            &record,
            &c,
            "https://as.example",
            Some("subj"),
            now,
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["token_type"], "refresh_token");
        assert_eq!(v["exp"], 500);
        for (rec, who, at) in [
            (
                RefreshRecord {
                    status: RefreshStatus::Rotated,
                    ..record.clone()
                },
                c.clone(),
                now,
            ),
            (record.revoked(), c.clone(), now),
            (record.clone(), client(2), now),
            (record.clone(), c.clone(), UnixTime::from_secs(500)),
        ] {
            let r = IntrospectionResponse::for_refresh_token(
                &rec,
                &who,
                "https://as.example",
                None,
                at,
            );
            assert_eq!(r, IntrospectionResponse::Inactive);
        }
    }

    #[test]
    fn hints_and_shapes() {
        assert_eq!(
            TokenTypeHint::parse(Some("access_token")),
            Some(TokenTypeHint::AccessToken)
        );
        assert_eq!(
            TokenTypeHint::parse(Some("refresh_token")),
            Some(TokenTypeHint::RefreshToken)
        );
        assert_eq!(TokenTypeHint::parse(Some("id_token")), None);
        assert_eq!(TokenTypeHint::parse(None), None);
        assert_eq!(TokenTypeHint::of("a.b.c"), TokenTypeHint::AccessToken);
        assert_eq!(TokenTypeHint::of("abcdef"), TokenTypeHint::RefreshToken);
    }
}
