//! alloy bindings for the cogrid contracts.
//!
//! Generated at compile time by `sol!` from the artifacts committed in `bindings/artifacts/`
//! (abi + bytecode), so building needs neither forge nor solc. `make bindings` regenerates the
//! artifacts from `contracts/src`; CI fails when they drift.

#![allow(missing_docs, clippy::all, unreachable_pub)]
// Generated, do not edit: the types below come from bindings/artifacts/*.json.

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    EnergyMarket,
    "artifacts/EnergyMarket.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    EnergyCredit,
    "artifacts/EnergyCredit.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    CarbonCredit,
    "artifacts/CarbonCredit.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    MockStablecoin,
    "artifacts/MockStablecoin.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    OracleHub,
    "artifacts/OracleHub.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    OracleFeed,
    "artifacts/OracleFeed.json"
);

/// The pool's ABI names `IEnergyMarket.Asset` too; its own module keeps that type apart from the
/// market's `IEnergyMarket`.
pub mod amm {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        EnergyAmm,
        "artifacts/EnergyAmm.json"
    );
}
pub use amm::EnergyAmm;

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    VppDispatch,
    "artifacts/VppDispatch.json"
);

/// Declares [`RejectReason`] and its decoder from one list, so the names and their positions
/// cannot disagree with each other.
macro_rules! reject_reasons {
    ($($name:ident),* $(,)?) => {
        /// `IMeterRegistry.RejectReason`: a JSON ABI carries enums as `uint8` without their
        /// variant names, so they are spelled out here in the contract's order (a test on anvil
        /// triggers and decodes each one).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RejectReason {
            $($name,)*
            /// A value this build does not know (a newer contract).
            Unknown(u8),
        }

        impl RejectReason {
            /// Decodes the `uint8` the contract emits.
            pub fn from_abi(value: u8) -> Self {
                const ORDER: &[RejectReason] = &[$(RejectReason::$name),*];
                ORDER.get(usize::from(value)).copied().unwrap_or(RejectReason::Unknown(value))
            }
        }
    };
}

reject_reasons!(
    UnknownMeter,
    MeterDeactivated,
    IntervalMisaligned,
    FromFuture,
    TooOld,
    DuplicateInBatch,
    AlreadyCounted,
    SeqNotIncreasing,
    MalformedSignature,
    WrongSigner,
    IntervalNotAfterPrevious,
    RegisterWentBackwards,
    ImplausibleDelta,
);
