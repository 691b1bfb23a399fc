//! Errors of the gateway.

use alloy::primitives::Address;

/// Errors of the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Config, keystore, deployment file or RPC trouble from the shared chain plumbing.
    #[error(transparent)]
    Chain(#[from] cogrid_chain::ChainError),
    /// A JSON-RPC call failed; the daemon retries at its next poll.
    #[error("the node did not answer {call}: {message}; check that it is running and reachable")]
    Rpc {
        /// The JSON-RPC method or contract call.
        call: &'static str,
        /// What the transport or the node said.
        message: String,
    },
    /// No contract at an address of the deployment file.
    #[error(
        "no {what} contract at {address} on this chain: the deployment file does not belong to \
         the node at the configured RPC URL (fix `chain.deployment` or `chain.rpc_url`)"
    )]
    NoContract {
        /// Which contract.
        what: &'static str,
        /// The address from the deployment file.
        address: Address,
    },
    /// The meter is not in the market's registry.
    #[error(
        "meter {meter} is not registered in the EnergyMarket {market}: ask the co-op admin to \
         register it, or fix `meter.address`"
    )]
    MeterNotRegistered {
        /// The configured meter.
        meter: Address,
        /// The market asked.
        market: Address,
    },
    /// The configured key is not the meter's owner, so the contract would refuse its enrolments.
    #[error(
        "meter {meter} belongs to {owner}, but the owner keystore holds {key}: configure the \
         keystore of the meter's owner in `owner.keystore`"
    )]
    NotMeterOwner {
        /// The configured meter.
        meter: Address,
        /// The owner the registry names.
        owner: Address,
        /// The address of the configured key.
        key: Address,
    },
    /// The meter has neither a battery nor an EV behind it: VppDispatch refuses its enrolments.
    #[error(
        "meter {meter} is registered with kinds {kinds:#04x}, neither BATTERY (0x02) nor EV (0x04): \
         ask the co-op admin to register the battery's meter"
    )]
    MeterNotDispatchable {
        /// The configured meter.
        meter: Address,
        /// Its `MeterKinds` flags.
        kinds: u8,
    },
    /// The battery could not be read or commanded.
    #[error("battery: {0}")]
    Battery(Box<dyn std::error::Error + Send + Sync>),
}
