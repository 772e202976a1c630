//! Ways in: sign-up (all of a new account in one transaction), passwords,
//! passkeys and recovery codes. Only hashes and public keys are stored.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    SqlErr, TransactionTrait,
};

use crate::entity::{passkey, password_credential, person, recovery_code, session};
use crate::person::new_pseudonym;
use crate::{Handle, Person, PersonId, Store, StoreError, now};

/// The most passkeys one person may register.
pub const MAX_PASSKEYS_PER_PERSON: usize = 20;

/// Everything a new account starts with, written together or not at all.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// The id the person will have (a passkey sign-up chose it already: it
    /// is the WebAuthn user handle).
    pub person_id: PersonId,
    /// Their handle.
    pub handle: Handle,
    /// An argon2id hash, for a password account.
    pub password_hash: Option<String>,
    /// A first passkey, for a passkey account.
    pub passkey: Option<NewPasskeyRow>,
    /// Hashes of the recovery codes shown once.
    pub recovery_code_hashes: Vec<String>,
    /// The first session: token hash and absolute expiry.
    pub session: (String, time::OffsetDateTime),
}

/// A passkey to store.
#[derive(Clone, Debug)]
pub struct NewPasskeyRow {
    /// Credential id, base64url.
    pub credential_id: String,
    /// Name shown to the person.
    pub name: String,
    /// Serialised webauthn-rs passkey.
    pub passkey: String,
}

/// A stored passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasskeyRow {
    /// Credential id, base64url.
    pub credential_id: String,
    /// Owner.
    pub person_id: PersonId,
    /// Name shown to the person.
    pub name: String,
    /// Serialised webauthn-rs passkey.
    pub passkey: String,
    /// Registered.
    pub created_at: time::OffsetDateTime,
    /// Last sign-in with it.
    pub last_used_at: Option<time::OffsetDateTime>,
}

impl From<passkey::Model> for StoredPasskeyRow {
    fn from(row: passkey::Model) -> Self {
        StoredPasskeyRow {
            credential_id: row.credential_id,
            person_id: PersonId::new(row.person_id),
            name: row.name,
            passkey: row.passkey,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

impl Store {
    /// Creates a person with their first way in, recovery codes and session.
    pub async fn sign_up(&self, account: NewAccount) -> Result<Person, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let now = now();
        let row = person::ActiveModel {
            id: Set(account.person_id.as_str().to_owned()),
            handle: Set(account.handle.as_str().to_owned()),
            pseudonym: Set(new_pseudonym()?),
            sharing_default: Set("ask_me".to_owned()),
            max_duration: Set(crate::person::DEFAULT_MAX_DURATION.to_owned()),
            contact: Set("{}".to_owned()),
            created_at: Set(now),
            policy_version: Set(0),
            suspended_at: Set(None),
            sandbox_of: Set(None),
            erased_at: Set(None),
        };
        let person = match row.insert(&txn).await {
            Ok(row) => Person::try_from(row)?,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::HandleTaken(account.handle.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        // The first session's methods: what the sign-up itself proved.
        let amr = match (&account.passkey, &account.password_hash) {
            (Some(_), _) => Some("hwk user".to_owned()),
            (None, Some(_)) => Some("pwd".to_owned()),
            (None, None) => None,
        };
        if let Some(hash) = account.password_hash {
            password_credential::ActiveModel {
                person_id: Set(person.id.as_str().to_owned()),
                hash: Set(hash),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        if let Some(new) = account.passkey {
            insert_passkey(&txn, &person.id, new).await?;
        }
        for hash in account.recovery_code_hashes {
            recovery_code::ActiveModel {
                person_id: Set(person.id.as_str().to_owned()),
                code_hash: Set(hash),
                used_at: Set(None),
            }
            .insert(&txn)
            .await?;
        }
        session::ActiveModel {
            token_hash: Set(account.session.0),
            person_id: Set(person.id.as_str().to_owned()),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(account.session.1),
            amr: Set(amr),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(person)
    }

    /// The person's password hash, if they have a password.
    pub async fn password_hash(&self, person: &PersonId) -> Result<Option<String>, StoreError> {
        Ok(
            password_credential::Entity::find_by_id(person.as_str().to_owned())
                .one(&self.db)
                .await?
                .map(|row| row.hash),
        )
    }

    /// The person's passkeys, oldest first.
    pub async fn passkeys(&self, person: &PersonId) -> Result<Vec<StoredPasskeyRow>, StoreError> {
        Ok(passkey::Entity::find()
            .filter(passkey::Column::PersonId.eq(person.as_str()))
            .order_by_asc(passkey::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredPasskeyRow::from)
            .collect())
    }

    /// The passkey with this credential id, whoever owns it.
    pub async fn passkey(&self, credential_id: &str) -> Result<StoredPasskeyRow, StoreError> {
        passkey::Entity::find_by_id(credential_id.to_owned())
            .one(&self.db)
            .await?
            .map(StoredPasskeyRow::from)
            .ok_or(StoreError::PasskeyNotFound)
    }

    /// Adds a passkey to an existing person.
    pub async fn add_passkey(
        &self,
        person: &PersonId,
        new: NewPasskeyRow,
    ) -> Result<StoredPasskeyRow, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.lock_person(&txn, person).await?;
        let count = passkey::Entity::find()
            .filter(passkey::Column::PersonId.eq(person.as_str()))
            .count(&txn)
            .await?;
        if count >= MAX_PASSKEYS_PER_PERSON as u64 {
            return Err(StoreError::TooManyPasskeys {
                max: MAX_PASSKEYS_PER_PERSON,
            });
        }
        let row = insert_passkey(&txn, person, new).await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Renames one of the person's passkeys.
    pub async fn rename_passkey(
        &self,
        person: &PersonId,
        credential_id: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        let result = passkey::Entity::update_many()
            .col_expr(passkey::Column::Name, Expr::value(name.to_owned()))
            .filter(passkey::Column::CredentialId.eq(credential_id))
            .filter(passkey::Column::PersonId.eq(person.as_str()))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::PasskeyNotFound);
        }
        Ok(())
    }

    /// Removes one of the person's passkeys, unless it is their last way in
    /// (no password and no other passkey).
    pub async fn remove_passkey(
        &self,
        person: &PersonId,
        credential_id: &str,
    ) -> Result<(), StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.lock_person(&txn, person).await?;
        let keys = passkey::Entity::find()
            .filter(passkey::Column::PersonId.eq(person.as_str()))
            .all(&txn)
            .await?;
        if !keys.iter().any(|k| k.credential_id == credential_id) {
            return Err(StoreError::PasskeyNotFound);
        }
        let has_password = password_credential::Entity::find_by_id(person.as_str().to_owned())
            .one(&txn)
            .await?
            .is_some();
        if keys.len() == 1 && !has_password {
            return Err(StoreError::LastWayIn);
        }
        passkey::Entity::delete_by_id(credential_id.to_owned())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Records a sign-in with a passkey (and its advanced counter).
    pub async fn passkey_used(
        &self,
        credential_id: &str,
        updated_passkey: Option<String>,
    ) -> Result<(), StoreError> {
        let mut update = passkey::Entity::update_many()
            .col_expr(passkey::Column::LastUsedAt, Expr::value(now()))
            .filter(passkey::Column::CredentialId.eq(credential_id));
        if let Some(passkey) = updated_passkey {
            update = update.col_expr(passkey::Column::Passkey, Expr::value(passkey));
        }
        update.exec(&self.db).await?;
        Ok(())
    }

    /// Spends a recovery code: true exactly once per unused code.
    pub async fn use_recovery_code(
        &self,
        person: &PersonId,
        code_hash: &str,
    ) -> Result<bool, StoreError> {
        let result = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(Some(now())))
            .filter(recovery_code::Column::PersonId.eq(person.as_str()))
            .filter(recovery_code::Column::CodeHash.eq(code_hash))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// How many unused recovery codes the person has.
    pub async fn recovery_codes_left(&self, person: &PersonId) -> Result<u64, StoreError> {
        Ok(recovery_code::Entity::find()
            .filter(recovery_code::Column::PersonId.eq(person.as_str()))
            .filter(recovery_code::Column::UsedAt.is_null())
            .count(&self.db)
            .await?)
    }

    /// Replaces all of the person's recovery codes.
    pub async fn replace_recovery_codes(
        &self,
        person: &PersonId,
        hashes: Vec<String>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::PersonId.eq(person.as_str()))
            .exec(&txn)
            .await?;
        for hash in hashes {
            recovery_code::ActiveModel {
                person_id: Set(person.as_str().to_owned()),
                code_hash: Set(hash),
                used_at: Set(None),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

async fn insert_passkey(
    txn: &sea_orm::DatabaseTransaction,
    person: &PersonId,
    new: NewPasskeyRow,
) -> Result<StoredPasskeyRow, StoreError> {
    let row = passkey::ActiveModel {
        credential_id: Set(new.credential_id),
        person_id: Set(person.as_str().to_owned()),
        name: Set(new.name),
        passkey: Set(new.passkey),
        created_at: Set(now()),
        last_used_at: Set(None),
    };
    match row.insert(txn).await {
        Ok(row) => Ok(row.into()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::PasskeyTaken),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_test;

    fn account(handle: &str, password: bool, passkey: Option<&str>) -> NewAccount {
        NewAccount {
            person_id: PersonId::from_uuid(uuid::Uuid::new_v4()),
            handle: Handle::parse(handle).unwrap(),
            password_hash: password.then(|| "$argon2id$stub".to_owned()),
            passkey: passkey.map(|id| NewPasskeyRow {
                credential_id: id.to_owned(),
                name: "key".to_owned(),
                passkey: "{}".to_owned(),
            }),
            recovery_code_hashes: vec!["r1".into(), "r2".into()],
            session: (format!("s-{handle}"), now() + time::Duration::hours(1)),
        }
    }

    store_test!(sign_up_writes_everything_or_nothing, |store| {
        let ada = store
            .sign_up(account("ada", false, Some("cred-1")))
            .await
            .unwrap();
        assert_eq!(store.passkeys(&ada.id).await.unwrap().len(), 1);
        assert_eq!(store.recovery_codes_left(&ada.id).await.unwrap(), 2);
        assert_eq!(
            store.session_person("s-ada").await.unwrap(),
            Some(ada.id.clone())
        );
        // the same credential for someone else: refused, and bob does not exist
        let err = store
            .sign_up(account("bob", false, Some("cred-1")))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::PasskeyTaken), "{err:?}");
        assert!(matches!(
            store.person_by_handle(&Handle::parse("bob").unwrap()).await,
            Err(StoreError::PersonNotFound)
        ));
        assert_eq!(store.session_person("s-bob").await.unwrap(), None);
    });

    store_test!(a_recovery_code_works_once, |store| {
        let ada = store.sign_up(account("ada", true, None)).await.unwrap();
        assert!(store.use_recovery_code(&ada.id, "r1").await.unwrap());
        assert!(!store.use_recovery_code(&ada.id, "r1").await.unwrap());
        assert!(!store.use_recovery_code(&ada.id, "nope").await.unwrap());
        assert_eq!(store.recovery_codes_left(&ada.id).await.unwrap(), 1);
        store
            .replace_recovery_codes(&ada.id, vec!["n1".into()])
            .await
            .unwrap();
        assert!(!store.use_recovery_code(&ada.id, "r2").await.unwrap());
        assert!(store.use_recovery_code(&ada.id, "n1").await.unwrap());
    });

    store_test!(the_last_way_in_cannot_be_removed, |store| {
        let ada = store
            .sign_up(account("ada", false, Some("only")))
            .await
            .unwrap();
        assert!(matches!(
            store.remove_passkey(&ada.id, "only").await,
            Err(StoreError::LastWayIn)
        ));
        let with_password = store
            .sign_up(account("bob", true, Some("bobs")))
            .await
            .unwrap();
        store
            .remove_passkey(&with_password.id, "bobs")
            .await
            .unwrap();
        assert!(store.passkeys(&with_password.id).await.unwrap().is_empty());
    });

    store_test!(passkeys_belong_to_their_owner, |store| {
        let ada = store
            .sign_up(account("ada", true, Some("ada-key")))
            .await
            .unwrap();
        let bob = store.sign_up(account("bob", true, None)).await.unwrap();
        assert!(matches!(
            store.rename_passkey(&bob.id, "ada-key", "mine").await,
            Err(StoreError::PasskeyNotFound)
        ));
        assert!(matches!(
            store.remove_passkey(&bob.id, "ada-key").await,
            Err(StoreError::PasskeyNotFound)
        ));
        store
            .rename_passkey(&ada.id, "ada-key", "laptop")
            .await
            .unwrap();
        assert_eq!(store.passkey("ada-key").await.unwrap().name, "laptop");
        store
            .passkey_used("ada-key", Some("{\"counter\":1}".into()))
            .await
            .unwrap();
        let used = store.passkey("ada-key").await.unwrap();
        assert!(used.last_used_at.is_some());
        assert_eq!(used.passkey, "{\"counter\":1}");
    });
}
