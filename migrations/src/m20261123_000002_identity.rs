//! Ways in: passwords, passkeys, WebAuthn ceremonies in progress, sessions,
//! recovery codes and sign-in throttles. Secrets are stored only as hashes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn person_fk(table: impl IntoIden, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table.into_iden(), Alias::new("person_id"))
        .to(Person::Table, Person::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PasswordCredential::Table)
                    .col(string_len(PasswordCredential::PersonId, 36).primary_key())
                    .col(text(PasswordCredential::Hash))
                    .col(timestamp_with_time_zone(PasswordCredential::UpdatedAt))
                    .foreign_key(&mut person_fk(
                        PasswordCredential::Table,
                        "fk_password_person",
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Passkey::Table)
                    .col(string_len(Passkey::CredentialId, 1400).primary_key())
                    .col(string_len(Passkey::PersonId, 36))
                    .col(string_len(Passkey::Name, 64))
                    .col(text(Passkey::Serialised))
                    .col(timestamp_with_time_zone(Passkey::CreatedAt))
                    .col(timestamp_with_time_zone_null(Passkey::LastUsedAt))
                    .foreign_key(&mut person_fk(Passkey::Table, "fk_passkey_person"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_passkey_person")
                    .table(Passkey::Table)
                    .col(Passkey::PersonId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebauthnCeremony::Table)
                    .col(string_len(WebauthnCeremony::Id, 64).primary_key())
                    .col(string_len(WebauthnCeremony::Purpose, 32))
                    .col(string_len_null(WebauthnCeremony::PersonId, 36))
                    .col(string_len_null(WebauthnCeremony::Handle, 64))
                    .col(text(WebauthnCeremony::State))
                    .col(timestamp_with_time_zone(WebauthnCeremony::ExpiresAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Session::Table)
                    .col(string_len(Session::TokenHash, 64).primary_key())
                    .col(string_len(Session::PersonId, 36))
                    .col(timestamp_with_time_zone(Session::CreatedAt))
                    .col(timestamp_with_time_zone(Session::LastSeenAt))
                    .col(timestamp_with_time_zone(Session::ExpiresAt))
                    .foreign_key(&mut person_fk(Session::Table, "fk_session_person"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_session_person")
                    .table(Session::Table)
                    .col(Session::PersonId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RecoveryCode::Table)
                    .col(string_len(RecoveryCode::PersonId, 36))
                    .col(string_len(RecoveryCode::CodeHash, 64))
                    .col(timestamp_with_time_zone_null(RecoveryCode::UsedAt))
                    .primary_key(
                        Index::create()
                            .col(RecoveryCode::PersonId)
                            .col(RecoveryCode::CodeHash),
                    )
                    .foreign_key(&mut person_fk(RecoveryCode::Table, "fk_recovery_person"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SignInThrottle::Table)
                    .col(string_len(SignInThrottle::Key, 200).primary_key())
                    .col(integer(SignInThrottle::Failures))
                    .col(big_integer(SignInThrottle::LastFailureUnix))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SignInThrottle::Table.into_iden(),
            RecoveryCode::Table.into_iden(),
            Session::Table.into_iden(),
            WebauthnCeremony::Table.into_iden(),
            Passkey::Table.into_iden(),
            PasswordCredential::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Person {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PasswordCredential {
    Table,
    PersonId,
    Hash,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Passkey {
    Table,
    CredentialId,
    PersonId,
    Name,
    #[sea_orm(iden = "passkey")]
    Serialised,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum WebauthnCeremony {
    Table,
    Id,
    Purpose,
    PersonId,
    Handle,
    State,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Session {
    Table,
    TokenHash,
    PersonId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum RecoveryCode {
    Table,
    PersonId,
    CodeHash,
    UsedAt,
}

#[derive(DeriveIden)]
enum SignInThrottle {
    Table,
    Key,
    Failures,
    LastFailureUnix,
}
