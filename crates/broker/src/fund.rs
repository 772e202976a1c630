//! The operator credits a company's wallet with a payment received.
//!
//! Funding is the one way money enters the books, and only the operator
//! moves it (`apiome company fund`): no HTTP request of a company or a
//! person reaches it. A transfer id (a bank reference, say) makes a retry
//! harmless: the same id with the same amount credits once, with another
//! amount or company it is refused. A sandbox company is funded in `XTS`
//! only, a real company never in `XTS`.

use consent_policy::{CompanyId, Money};
use store::{Funded, Store};

use crate::BrokerError;

/// The longest transfer id accepted.
pub const MAX_TRANSFER_ID: usize = 128;

/// What a funding did.
#[derive(Debug)]
pub struct Funding {
    /// Credited now, or by an earlier call with this transfer id.
    pub funded: Funded,
    /// What the wallet can now reserve in the funded currency.
    pub available: Money,
}

/// Credits `amount` to `company`'s wallet under `transfer_id`.
///
/// # Errors
/// A transfer id that is empty, longer than [`MAX_TRANSFER_ID`] or not
/// visible ASCII; a zero amount, an unknown company, or a transfer id used
/// for another payment (the store's refusals).
pub async fn fund(
    store: &Store,
    company: &CompanyId,
    amount: &Money,
    transfer_id: &str,
) -> Result<Funding, BrokerError> {
    if transfer_id.is_empty()
        || transfer_id.len() > MAX_TRANSFER_ID
        || !transfer_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(BrokerError::InvalidValue(format!(
            "a transfer id is 1 to {MAX_TRANSFER_ID} visible ASCII characters"
        )));
    }
    // Sandbox money (XTS) only into a sandbox's wallet, real money only
    // into a real company's: the two never meet (crate::sandbox).
    crate::sandbox::company_kind(store, company)
        .await?
        .check_currency(amount.currency())
        .map_err(|_| {
            BrokerError::InvalidValue(match amount.currency() {
                consent_policy::Currency::XTS => {
                    "XTS is the sandbox's test money: only a sandbox company is funded in it".into()
                }
                other => format!("a sandbox company is funded in XTS (test money), not {other}"),
            })
        })?;
    let funded = store.fund_wallet(company, amount, transfer_id).await?;
    let available = store
        .wallet(company)
        .await?
        .into_iter()
        .find(|b| b.currency == amount.currency())
        .map_or(0, |b| b.available);
    Ok(Funding {
        funded,
        available: Money::new(available, amount.currency()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_policy::Currency;
    use store::store_test;

    store_test!(a_transfer_id_credits_once_and_must_be_printable, |store| {
        let acme = CompanyId::parse("acme").unwrap();
        store.create_company(&acme, "Acme").await.unwrap();
        let ten = Money::parse_units("10", Currency::EUR).unwrap();
        for bad in ["", "bank ref", "ref\n1", &"x".repeat(MAX_TRANSFER_ID + 1)] {
            assert!(
                matches!(
                    fund(store, &acme, &ten, bad).await,
                    Err(BrokerError::InvalidValue(_))
                ),
                "{bad:?}"
            );
        }
        let first = fund(store, &acme, &ten, "bank-ref-1").await.unwrap();
        assert_eq!(first.funded, Funded::Credited);
        assert_eq!(first.available, ten);
        let again = fund(store, &acme, &ten, "bank-ref-1").await.unwrap();
        assert_eq!(again.funded, Funded::AlreadyCredited);
        assert_eq!(again.available, ten, "credited once");
        let other = Money::parse_units("11", Currency::EUR).unwrap();
        assert!(fund(store, &acme, &other, "bank-ref-1").await.is_err());
    });

    store_test!(
        sandbox_money_and_real_money_go_to_their_own_wallets,
        |store| {
            let real = CompanyId::parse("real").unwrap();
            store.create_company(&real, "Real").await.unwrap();
            let xts = Money::parse_units("10", Currency::XTS).unwrap();
            assert!(matches!(
                fund(store, &real, &xts, "t-1").await,
                Err(BrokerError::InvalidValue(_))
            ));
            assert!(
                store.wallet(&real).await.unwrap().is_empty(),
                "nothing moved"
            );
        }
    );
}
