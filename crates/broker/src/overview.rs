//! What a person sees of their own account on the dashboard: what they
//! share, how, with whom not, and their ways in.

use consent_policy::CompanyId;
use store::{Person, PersonId, Store, StoredAttribute, StoredPasskeyRow, StoredRule};

use crate::BrokerError;

/// A person's account as they manage it.
#[derive(Debug)]
pub struct Overview {
    /// The person: handle, sharing default, contact preferences.
    pub person: Person,
    /// Their attributes, each in its bucket.
    pub attributes: Vec<StoredAttribute>,
    /// Their standing rules, in the order they apply.
    pub rules: Vec<StoredRule>,
    /// The companies they blocked, with names (`None` for a company gone).
    pub blocked: Vec<(CompanyId, Option<String>)>,
    /// Their passkeys.
    pub passkeys: Vec<StoredPasskeyRow>,
    /// Whether they can sign in with a password.
    pub has_password: bool,
    /// How many one-time recovery codes are unused.
    pub recovery_codes_left: u64,
}

/// The person's account, read now.
pub async fn load(store: &Store, person: &PersonId) -> Result<Overview, BrokerError> {
    let blocked = store.blocked_companies(person).await?;
    let names = crate::company_names(store, blocked.iter()).await?;
    let blocked = blocked
        .into_iter()
        .map(|id| {
            let name = names.get(&id);
            (id, name)
        })
        .collect();
    Ok(Overview {
        person: store.person(person).await?,
        attributes: store.attributes(person).await?,
        rules: store.rules(person).await?,
        blocked,
        passkeys: store.passkeys(person).await?,
        has_password: store.password_hash(person).await?.is_some(),
        recovery_codes_left: store.recovery_codes_left(person).await?,
    })
}

#[cfg(test)]
mod tests {
    use consent_policy::{AttributeKey, Bucket, CompanyId};
    use serde_json::json;
    use store::{Handle, store_test};

    store_test!(the_overview_holds_attributes_blocks_and_ways_in, |store| {
        let person = store
            .create_person(&Handle::parse("grace_hopper").unwrap())
            .await
            .unwrap();
        let email = AttributeKey::parse("email").unwrap();
        store
            .put_attribute(
                &person.id,
                &email,
                &json!("grace@example.org"),
                Bucket::Private,
            )
            .await
            .unwrap();
        let company = CompanyId::parse("acme").unwrap();
        store.create_company(&company, "Acme").await.unwrap();
        crate::block::block(store, &person.id, &company)
            .await
            .unwrap();

        let overview = crate::overview::load(store, &person.id).await.unwrap();
        assert_eq!(overview.person.handle, person.handle);
        assert_eq!(overview.attributes.len(), 1);
        assert_eq!(overview.attributes[0].bucket, Bucket::Private);
        assert_eq!(overview.blocked, vec![(company, Some("Acme".to_owned()))]);
        assert!(overview.rules.is_empty());
        assert!(overview.passkeys.is_empty());
        assert!(!overview.has_password);
        assert_eq!(overview.recovery_codes_left, 0);
    });
}
