//! What a person's inbox lists: the requests companies sent them.

use store::{PersonId, Store, StoredRequest};

use crate::BrokerError;

/// A request with the name of the company that sent it.
#[derive(Debug)]
pub struct NamedRequest {
    /// The request and the policy's decision on it.
    pub request: StoredRequest,
    /// The company's name (its id when the company is gone).
    pub company_name: String,
}

/// The requests still waiting for the person's answer, newest first.
pub async fn pending(store: &Store, person: &PersonId) -> Result<Vec<NamedRequest>, BrokerError> {
    named(store, store.requests_for_person(person, true).await?).await
}

/// Every request sent to the person, answered or not, newest first.
pub async fn all(store: &Store, person: &PersonId) -> Result<Vec<NamedRequest>, BrokerError> {
    named(store, store.requests_for_person(person, false).await?).await
}

async fn named(
    store: &Store,
    requests: Vec<StoredRequest>,
) -> Result<Vec<NamedRequest>, BrokerError> {
    let names = crate::company_names(store, requests.iter().map(|r| &r.company_id)).await?;
    Ok(requests
        .into_iter()
        .map(|request| NamedRequest {
            company_name: names.of(&request.company_id),
            request,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use consent_policy::{AttributeKey, Bucket, CompanyId};
    use serde_json::json;
    use store::{Handle, store_test};

    store_test!(
        the_inbox_lists_open_requests_and_every_request_with_company_names,
        |store| {
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
                    Bucket::SemiPrivate,
                )
                .await
                .unwrap();
            let company = CompanyId::parse("acme").unwrap();
            store.create_company(&company, "Acme").await.unwrap();
            let details = json!({"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P30D"});
            let handle = person.handle.clone();
            let asked = crate::ask::ask(
                store,
                &company,
                crate::ask::Person::Handle(&handle),
                details,
                None,
            )
            .await
            .unwrap()
            .unwrap();

            let pending = crate::inbox::pending(store, &person.id).await.unwrap();
            assert_eq!(pending.len(), 1);
            assert_eq!(pending[0].request.id, asked.id);
            assert_eq!(pending[0].company_name, "Acme");

            crate::answer::decline(store, &person.id, &asked.id)
                .await
                .unwrap();
            assert!(
                crate::inbox::pending(store, &person.id)
                    .await
                    .unwrap()
                    .is_empty()
            );
            let all = crate::inbox::all(store, &person.id).await.unwrap();
            assert_eq!(all.len(), 1, "a declined request is still listed in all");
            assert_eq!(all[0].company_name, "Acme");
        }
    );
}
