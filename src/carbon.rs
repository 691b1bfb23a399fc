//! Carbon retirement: `cogrid carbon retire` burns carbon credits with a public certificate, and
//! `cogrid carbon show` lists an account's certificates, each checked against the chain.
//!
//! The chain keeps a commitment to each certificate (`retirementHash`) and the certificate itself
//! in its `Retired` event, indexed by id and by account; a certificate read from an event is
//! shown as verified only when `verifyRetirement` agrees with it.

use alloy::{
    primitives::{Address, U256, aliases::U40},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use cogrid_bindings::{CarbonCredit, ICarbonCredit::Retirement};
use eyre::{WrapErr, bail, eyre};

use crate::{
    cli::Asset,
    time::rfc3339,
    units::{self, Unit},
    wallet::{Session, done},
};

/// The longest beneficiary and purpose the contract records, in UTF-8 bytes (its
/// `MAX_BENEFICIARY_BYTES` and `MAX_PURPOSE_BYTES`).
pub(crate) const MAX_BENEFICIARY_BYTES: usize = 128;
/// See [`MAX_BENEFICIARY_BYTES`].
pub(crate) const MAX_PURPOSE_BYTES: usize = 256;

/// The period a retirement claims when `--from` is left out: the year before its end.
const DEFAULT_PERIOD_SECONDS: u64 = 365 * 86_400;

/// Checks a beneficiary or purpose against the contract's bound before anything is sent.
pub(crate) fn text_arg(text: &str, what: &str, max: usize) -> eyre::Result<String> {
    if text.len() > max {
        bail!(
            "--{what} is {} bytes long; the certificate holds at most {max} bytes",
            text.len()
        );
    }
    Ok(text.to_owned())
}

/// A retirement's period: `to` defaults to the chain's time, `from` to a year before `to`.
fn period(from: Option<u64>, to: u64) -> eyre::Result<(U40, U40)> {
    let from = from.unwrap_or(to.saturating_sub(DEFAULT_PERIOD_SECONDS));
    if to <= from {
        bail!(
            "the period {} to {} is empty: --to must be after --from",
            rfc3339(from),
            rfc3339(to)
        );
    }
    let fits = |seconds: u64| {
        U40::try_from(seconds).map_err(|_| eyre!("{seconds} is past the year 36812 (40 bits)"))
    };
    Ok((fits(from)?, fits(to)?))
}

impl Session {
    fn carbon(&self) -> CarbonCredit::CarbonCreditInstance<DynProvider> {
        CarbonCredit::new(self.deployment.carbon_credit, self.provider.clone())
    }

    /// Retires `grams` from the sender's wallet, withdrawing what the wallet lacks from the vault
    /// first, and prints the certificate.
    pub(crate) async fn retire_carbon(
        &self,
        grams: u128,
        beneficiary: &str,
        purpose: &str,
        from: Option<u64>,
        to: Option<u64>,
    ) -> eyre::Result<()> {
        let to = match to {
            Some(to) => to,
            None => self.chain_time().await?,
        };
        let (period_start, period_end) = period(from, to)?;
        let carbon = self.carbon();
        let wallet: u128 = carbon
            .balanceOf(self.sender)
            .call()
            .await
            .map_err(self.explained(Some(Asset::Carbon)))?
            .saturating_to();
        if wallet < grams {
            let vault = self.vault(self.sender).await?[Asset::Carbon.index()];
            let short = grams - wallet;
            if vault < short {
                bail!(
                    "not sent: {} holds {} of carbon credits in its wallet and {} in its vault, \
                     less than the {} to retire",
                    self.sender,
                    units::show(wallet, Unit::Grams),
                    units::show(vault, Unit::Grams),
                    units::show(grams, Unit::Grams)
                );
            }
            self.withdraw(Asset::Carbon, Some(short)).await?;
        }
        let sent = carbon
            .retire(
                U256::from(grams),
                beneficiary.to_owned(),
                period_start,
                period_end,
                purpose.to_owned(),
            )
            .send()
            .await;
        let receipt = self.confirm(sent, Some(Asset::Carbon)).await?;
        let retired = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| log.log_decode::<CarbonCredit::Retired>().ok())
            .ok_or_else(|| {
                eyre!(
                    "transaction {} retired nothing: it has no Retired event",
                    receipt.transaction_hash
                )
            })?;
        println!("retired {}", done(&receipt));
        print_certificate(&retired.inner.data, true);
        Ok(())
    }

    /// Prints one certificate by id, or an account's retired total and certificates.
    pub(crate) async fn show_carbon(
        &self,
        account: Option<Address>,
        id: Option<u64>,
    ) -> eyre::Result<()> {
        let carbon = self.carbon();
        let filter = Filter::new()
            .address(self.deployment.carbon_credit)
            .event_signature(CarbonCredit::Retired::SIGNATURE_HASH);
        if let Some(id) = id {
            let logs = self.logs(filter.topic1(U256::from(id))).await?;
            let Some(retired) = logs.first().map(decode).transpose()? else {
                let count = carbon
                    .retirementCount()
                    .call()
                    .await
                    .map_err(self.explained(Some(Asset::Carbon)))?;
                bail!("there is no retirement {id}: the chain holds retirements 1 to {count}");
            };
            let verified = self.verify(&retired).await?;
            print_certificate(&retired, verified);
            return Ok(());
        }
        let account = account.unwrap_or(self.sender);
        let retired_by = carbon
            .retiredBy(account)
            .call()
            .await
            .map_err(self.explained(Some(Asset::Carbon)))?;
        let total = carbon
            .totalRetired()
            .call()
            .await
            .map_err(self.explained(Some(Asset::Carbon)))?;
        println!(
            "{account} retired {} (all accounts: {})",
            units::show(retired_by.saturating_to(), Unit::Grams),
            units::show(total.saturating_to(), Unit::Grams)
        );
        let logs = self.logs(filter.topic2(account.into_word())).await?;
        if logs.is_empty() {
            println!("  no certificates");
        }
        for log in &logs {
            let retired = decode(log)?;
            let verified = self.verify(&retired).await?;
            print_certificate(&retired, verified);
        }
        Ok(())
    }

    /// Whether the chain's commitment agrees with a certificate read from an event.
    async fn verify(&self, retired: &CarbonCredit::Retired) -> eyre::Result<bool> {
        let record = Retirement {
            account: retired.account,
            amount: retired.amount,
            periodStart: retired.periodStart,
            periodEnd: retired.periodEnd,
            retiredAt: retired.retiredAt,
            beneficiary: retired.beneficiary.clone(),
            purpose: retired.purpose.clone(),
        };
        self.carbon()
            .verifyRetirement(retired.id, record)
            .call()
            .await
            .map_err(self.explained(Some(Asset::Carbon)))
    }

    /// The latest block's timestamp: what the chain's clock reads, which tests (and devnets)
    /// move apart from the local clock.
    pub(crate) async fn chain_time(&self) -> eyre::Result<u64> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .wrap_err_with(|| format!("reading the latest block from {}", self.rpc_url))?
            .ok_or_else(|| eyre!("{} has no latest block", self.rpc_url))?;
        Ok(block.header.timestamp)
    }
}

fn decode(log: &Log) -> eyre::Result<CarbonCredit::Retired> {
    Ok(log
        .log_decode::<CarbonCredit::Retired>()
        .wrap_err("a Retired event that does not decode")?
        .inner
        .data)
}

fn print_certificate(retired: &CarbonCredit::Retired, verified: bool) {
    let seconds = |value: U40| rfc3339(value.to::<u64>());
    println!("certificate #{}", retired.id);
    println!("  retired by    {}", retired.account);
    let beneficiary = if retired.beneficiary.is_empty() {
        "(the retiring account)"
    } else {
        &retired.beneficiary
    };
    println!("  beneficiary   {beneficiary}");
    println!(
        "  amount        {}",
        units::show(retired.amount.saturating_to(), Unit::Grams)
    );
    println!(
        "  period        {} to {}",
        seconds(retired.periodStart),
        seconds(retired.periodEnd)
    );
    println!("  purpose       {}", retired.purpose);
    println!("  retired at    {}", seconds(retired.retiredAt));
    println!(
        "  verified      {}",
        if verified {
            "yes: the chain's commitment matches this record"
        } else {
            "NO: the chain's commitment does not match this record"
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_period_is_the_year_before_its_end() {
        let (from, to) = period(None, 1_767_225_600).unwrap();
        assert_eq!(to.to::<u64>(), 1_767_225_600);
        assert_eq!(from.to::<u64>(), 1_767_225_600 - 365 * 86_400);
    }

    #[test]
    fn an_empty_period_is_refused() {
        let error = period(Some(200), 100).unwrap_err().to_string();
        assert!(error.contains("--to must be after --from"), "{error}");
        assert!(period(Some(100), 100).is_err());
    }

    #[test]
    fn texts_longer_than_the_certificate_holds_are_refused() {
        assert!(text_arg(&"x".repeat(128), "beneficiary", MAX_BENEFICIARY_BYTES).is_ok());
        let error = text_arg(&"x".repeat(129), "beneficiary", MAX_BENEFICIARY_BYTES)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "--beneficiary is 129 bytes long; the certificate holds at most 128 bytes"
        );
    }
}
