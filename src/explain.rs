//! Turning a failed call into something a person can act on: the contract's named error (decoded
//! from the revert data, never matched as a string) with a hint for the common ones, or the RPC
//! URL that did not answer.

use alloy::primitives::{B256, keccak256};
use cogrid_bindings::{
    CarbonCredit::CarbonCreditErrors, EnergyAmm::EnergyAmmErrors, EnergyMarket::EnergyMarketErrors,
};
use cogrid_chain::ChainError;
use eyre::eyre;

use crate::{
    cli::Asset,
    time::rfc3339,
    units::{self, Unit},
};

mod erc20 {
    #![allow(missing_docs, unreachable_pub, clippy::all)]
    // The ERC-20 calls the wallet commands make, and OpenZeppelin 5's ERC-6093 errors, which a
    // token reverts with and the market's `SafeERC20` passes through unchanged.
    alloy::sol! {
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        interface Erc20 {
            function balanceOf(address account) external view returns (uint256);
            function allowance(address owner, address spender) external view returns (uint256);
            function approve(address spender, uint256 value) external returns (bool);
            error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
            error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
            error ERC20InvalidSender(address sender);
            error ERC20InvalidReceiver(address receiver);
            error ERC20InvalidApprover(address approver);
            error ERC20InvalidSpender(address spender);
        }
    }
}

pub(crate) use erc20::Erc20;

/// Explains a failed contract call or transaction. `rpc_url` names the node when it did not
/// answer; `asset` is the token the command moves, to show ERC-20 amounts in its unit.
pub(crate) fn explain(
    error: alloy::contract::Error,
    rpc_url: &str,
    asset: Option<Asset>,
) -> eyre::Report {
    if let Some(decoded) = error.as_decoded_interface_error::<EnergyMarketErrors>() {
        return match market_hint(&decoded) {
            Some(hint) => eyre!("EnergyMarket refused: {decoded:?}\n  hint: {hint}"),
            None => eyre!("EnergyMarket refused: {decoded:?}"),
        };
    }
    if let Some(decoded) = error.as_decoded_interface_error::<CarbonCreditErrors>() {
        return match carbon_hint(&decoded) {
            Some(hint) => eyre!("CarbonCredit refused: {decoded:?}\n  hint: {hint}"),
            None => eyre!("CarbonCredit refused: {decoded:?}"),
        };
    }
    if let Some(decoded) = error.as_decoded_interface_error::<Erc20::Erc20Errors>() {
        let hint = token_hint(&decoded, asset);
        return eyre!("the token refused: {decoded:?}\n  hint: {hint}");
    }
    if let alloy::contract::Error::TransportError(transport) = &error
        && transport.is_transport_error()
    {
        return eyre::Report::new(ChainError::RpcUnreachable {
            url: rpc_url.to_owned(),
            message: transport.to_string(),
        });
    }
    eyre!(error)
}

/// Explains a failed call to the pool. The pool's own errors (and those of its LP share token)
/// come first: its ABI shares the ERC-20 errors with the credit tokens, and a call to the pool
/// means its shares. `sold` is the asset a swap sells, to show amounts in their units; what the
/// market refuses inside the pool's call (a short vault) is explained as [`explain`] does.
pub(crate) fn explain_pool(
    error: alloy::contract::Error,
    rpc_url: &str,
    sold: Option<Asset>,
) -> eyre::Report {
    match error.as_decoded_interface_error::<EnergyAmmErrors>() {
        Some(decoded) => match pool_hint(&decoded, sold) {
            Some(hint) => eyre!("EnergyAmm refused: {decoded:?}\n  hint: {hint}"),
            None => eyre!("EnergyAmm refused: {decoded:?}"),
        },
        None => explain(error, rpc_url, sold),
    }
}

/// The asset a swap pays out when it sells `sold`.
pub(crate) fn other_side(sold: Asset) -> Asset {
    match sold {
        Asset::Credits => Asset::Usd,
        Asset::Usd | Asset::Carbon => Asset::Credits,
    }
}

/// What to do about the pool's errors.
fn pool_hint(error: &EnergyAmmErrors, sold: Option<Asset>) -> Option<String> {
    let show = |value, asset: Option<Asset>| match asset {
        Some(asset) => show_u256(value, asset.unit()),
        None => format!("{value} base units"),
    };
    let bought = sold.map(other_side);
    Some(match error {
        EnergyAmmErrors::EnergyAmmExpired(e) => format!(
            "the transaction was mined at {}, after its deadline {}: run the command again, or \
             give it longer with --deadline SECONDS",
            rfc3339(e.timestamp.saturating_to()),
            rfc3339(e.deadline.saturating_to())
        ),
        EnergyAmmErrors::EnergyAmmZeroAmount(_) => "give an amount above zero".to_owned(),
        EnergyAmmErrors::EnergyAmmInsufficientOutput(e) => format!(
            "the swap would pay {}, less than the {} you asked for at least: the price moved or \
             the limit is too tight (`cogrid pool` shows the price): lower --min-receive or \
             --min-kwh, or leave it out to quote again with --slippage-bps",
            show(e.amountOut, bought),
            show(e.minOut, bought)
        ),
        EnergyAmmErrors::EnergyAmmExcessiveInput(e) => format!(
            "the swap would take {}, more than the {} you allowed at most: the price moved or \
             the limit is too tight (`cogrid pool` shows the price): raise --max-pay or \
             --max-sell-kwh, or leave it out to quote again with --slippage-bps",
            show(e.amountIn, sold),
            show(e.maxIn, sold)
        ),
        EnergyAmmErrors::EnergyAmmInsufficientLiquidity(e) if e.reserveOut.is_zero() => {
            "the pool holds no liquidity yet: add some with `cogrid liquidity add --kwh X \
             --amount Y`"
                .to_owned()
        }
        EnergyAmmErrors::EnergyAmmInsufficientLiquidity(e) => format!(
            "the pool holds {}, not more than the {} asked for: ask for less (`cogrid pool` \
             shows the reserves), or add liquidity first",
            show(e.reserveOut, bought),
            show(e.amountOut, bought)
        ),
        EnergyAmmErrors::EnergyAmmReserveOverflow(_) => {
            "the pool would hold more than a market vault stores: swap or add less".to_owned()
        }
        EnergyAmmErrors::EnergyAmmBelowMinimum(e) => {
            let asset = Asset::from_abi(e.asset);
            format!(
                "the pool would move only {} of {}, below the minimum {}: its price moved since \
                 the quote; run the command again, or allow more with --slippage-bps",
                show(e.amount, asset),
                asset.map_or("that asset", Asset::name),
                show(e.minimum, asset)
            )
        }
        EnergyAmmErrors::EnergyAmmInsufficientInitialLiquidity(e) => format!(
            "the first deposit is worth {} shares (the square root of Wh times stablecoin base \
             units), not more than the {} locked forever: deposit more of both",
            e.liquidity, e.minimum
        ),
        EnergyAmmErrors::EnergyAmmZeroShares(_) => {
            "the deposit is worth less than one share: deposit more of both".to_owned()
        }
        EnergyAmmErrors::EnergyAmmInsufficientLiquidityBurned(e) => format!(
            "burning {} shares would pay out nothing of one asset: burn more shares",
            e.shares
        ),
        EnergyAmmErrors::ERC20InsufficientBalance(e) => format!(
            "{} holds {} LP shares, fewer than the {} to burn: `cogrid pool` shows your shares",
            e.sender, e.balance, e.needed
        ),
        _ => return None,
    })
}

/// What to do about the market's common errors.
pub(crate) fn market_hint(error: &EnergyMarketErrors) -> Option<String> {
    Some(match error {
        EnergyMarketErrors::MarketInsufficientVaultBalance(e) => {
            let asset = Asset::from_abi(e.asset);
            let (needed, held) = match asset {
                Some(asset) => (
                    show_u256(e.needed, asset.unit()),
                    show_u256(e.balance, asset.unit()),
                ),
                None => (e.needed.to_string(), e.balance.to_string()),
            };
            let name = asset.map_or("that asset", Asset::name);
            format!(
                "your vault holds {held} of {name}, less than the {needed} asked for: withdraw at \
                 most {held} (`cogrid withdraw --all` takes everything), or deposit first with \
                 `cogrid deposit`; `cogrid balance` shows what you hold"
            )
        }
        EnergyMarketErrors::MarketInsufficientBalance(e) => format!(
            "the owner of meter {} has {} in its vault but the fill costs {}: deposit stablecoin \
             with `cogrid deposit`",
            e.meter,
            show_u256(e.balance, Unit::Usd),
            show_u256(e.cost, Unit::Usd)
        ),
        EnergyMarketErrors::MarketNotMeterOwner(e) => format!(
            "meter {} is not registered to {}: send from the key of the meter's owner, or check \
             the address (`cogrid meter show {}` prints its owner)",
            e.meter, e.caller, e.meter
        ),
        EnergyMarketErrors::MarketParticipantNotActive(e) => format!(
            "the owner of meter {} is not an active participant, so its orders cannot trade: the \
             co-op admin reactivates it with `cogrid admin register-participant OWNER`; balances stay \
             withdrawable meanwhile",
            e.meter
        ),
        EnergyMarketErrors::MarketUnknownParticipant(e) => format!(
            "{} is not registered with the co-op and has no vault: ask the co-op admin to run \
             `cogrid admin register-participant {}`",
            e.account, e.account
        ),
        EnergyMarketErrors::MarketNoOrder(e) => format!(
            "meter {} has no standing order to cancel (`cogrid order show --meter {}`)",
            e.meter, e.meter
        ),
        EnergyMarketErrors::MarketZeroAmount(_) => "give an amount above zero".to_owned(),
        EnergyMarketErrors::AccessControlUnauthorizedAccount(e) => format!(
            "{} lacks {}: send from an account that has it, or ask the co-op admin to grant it",
            e.account,
            role_name(e.neededRole)
        ),
        _ => return None,
    })
}

/// What to do about the carbon credit's errors a retirement can meet.
fn carbon_hint(error: &CarbonCreditErrors) -> Option<String> {
    Some(match error {
        CarbonCreditErrors::CarbonCreditZeroAmount(_) => "retire at least 1 gram".to_owned(),
        CarbonCreditErrors::CarbonCreditInvalidPeriod(e) => format!(
            "the period must end after it starts (start {}, end {}): check --from and --to",
            e.start, e.end
        ),
        CarbonCreditErrors::CarbonCreditBeneficiaryTooLong(e) => format!(
            "the beneficiary is {} bytes; shorten it to at most {}",
            e.length, e.max
        ),
        CarbonCreditErrors::CarbonCreditPurposeTooLong(e) => format!(
            "the purpose is {} bytes; shorten it to at most {}",
            e.length, e.max
        ),
        CarbonCreditErrors::CarbonCreditUnknownRetirement(e) => format!(
            "there is no retirement {}: `cogrid carbon show` lists yours",
            e.id
        ),
        _ => return None,
    })
}

/// What to do about a token's ERC-6093 error.
fn token_hint(error: &Erc20::Erc20Errors, asset: Option<Asset>) -> String {
    let show = |value| match asset {
        Some(asset) => show_u256(value, asset.unit()),
        None => format!("{value} base units"),
    };
    match error {
        Erc20::Erc20Errors::ERC20InsufficientBalance(e) => format!(
            "wallet {} holds {}, less than the {} needed: top the wallet up, or move less",
            e.sender,
            show(e.balance),
            show(e.needed)
        ),
        Erc20::Erc20Errors::ERC20InsufficientAllowance(e) => format!(
            "the market may take only {} of your tokens but needs {}: `cogrid deposit` approves \
             the missing allowance itself, so run it again",
            show(e.allowance),
            show(e.needed)
        ),
        _ => {
            "the token refused the transfer; check the addresses in the deployment file".to_owned()
        }
    }
}

fn show_u256(value: alloy::primitives::U256, unit: Unit) -> String {
    format!("{} {}", units::format_u256(value, unit), unit.symbol())
}

/// The name of an access-control role of the suite, or its hash.
fn role_name(role: B256) -> String {
    if role == B256::ZERO {
        return "DEFAULT_ADMIN_ROLE".to_owned();
    }
    [
        "REGISTRAR_ROLE",
        "KEEPER_ROLE",
        "GRID_OPERATOR_ROLE",
        "MINTER_ROLE",
    ]
    .into_iter()
    .find(|name| keccak256(name) == role)
    .map_or_else(|| format!("role {role}"), str::to_owned)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address, U256};
    use cogrid_bindings::EnergyMarket;

    use super::*;

    #[test]
    fn a_short_vault_balance_is_shown_in_the_assets_unit() {
        let error = EnergyMarketErrors::MarketInsufficientVaultBalance(
            EnergyMarket::MarketInsufficientVaultBalance {
                account: Address::ZERO,
                asset: 1,
                needed: U256::from(3_200),
                balance: U256::from(500),
            },
        );
        let hint = market_hint(&error).unwrap();
        assert!(
            hint.contains("your vault holds 0.5 kWh of energy credits, less than the 3.2 kWh"),
            "{hint}"
        );
    }

    #[test]
    fn the_pools_errors_name_amounts_in_the_swapped_assets_units() {
        use cogrid_bindings::EnergyAmm;
        let error = EnergyAmmErrors::EnergyAmmExcessiveInput(EnergyAmm::EnergyAmmExcessiveInput {
            amountIn: U256::from(222_891),
            maxIn: U256::from(10_000),
        });
        let hint = pool_hint(&error, Some(Asset::Usd)).unwrap();
        assert!(
            hint.starts_with("the swap would take 0.222891 USD, more than the 0.01 USD"),
            "{hint}"
        );
        let error =
            EnergyAmmErrors::EnergyAmmInsufficientOutput(EnergyAmm::EnergyAmmInsufficientOutput {
                amountOut: U256::from(450),
                minOut: U256::from(500),
            });
        let hint = pool_hint(&error, Some(Asset::Usd)).unwrap();
        assert!(
            hint.starts_with("the swap would pay 0.45 kWh, less than the 0.5 kWh"),
            "{hint}"
        );
        let empty = EnergyAmmErrors::EnergyAmmInsufficientLiquidity(
            EnergyAmm::EnergyAmmInsufficientLiquidity {
                reserveOut: U256::ZERO,
                amountOut: U256::ZERO,
            },
        );
        let hint = pool_hint(&empty, None).unwrap();
        assert!(hint.contains("cogrid liquidity add"), "{hint}");
        let expired = EnergyAmmErrors::EnergyAmmExpired(EnergyAmm::EnergyAmmExpired {
            deadline: U256::from(4_085_164_800u64),
            timestamp: U256::from(4_085_164_801u64),
        });
        let hint = pool_hint(&expired, None).unwrap();
        assert!(
            hint.starts_with(
                "the transaction was mined at 2099-06-15T00:00:01Z, after its deadline \
                 2099-06-15T00:00:00Z"
            ),
            "{hint}"
        );
        assert!(hint.contains("--deadline"), "{hint}");
        let below = EnergyAmmErrors::EnergyAmmBelowMinimum(EnergyAmm::EnergyAmmBelowMinimum {
            asset: 0,
            amount: U256::from(990_000),
            minimum: U256::from(995_000),
        });
        let hint = pool_hint(&below, None).unwrap();
        assert!(
            hint.starts_with(
                "the pool would move only 0.99 USD of stablecoin, below the minimum 0.995 USD"
            ),
            "{hint}"
        );
    }

    #[test]
    fn roles_are_named() {
        assert_eq!(role_name(keccak256("KEEPER_ROLE")), "KEEPER_ROLE");
        assert_eq!(role_name(B256::ZERO), "DEFAULT_ADMIN_ROLE");
        assert!(role_name(B256::repeat_byte(1)).starts_with("role 0x"));
    }
}
