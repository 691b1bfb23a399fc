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
    MeterRegistry,
    "artifacts/MeterRegistry.json"
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

/// `IMeterRegistry.RejectReason`: a JSON ABI carries enums as `uint8` without their variant
/// names, so they are spelled out here in the contract's order (the end-to-end tests on anvil
/// decode real rejections with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
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
    /// A value this build does not know (a newer contract).
    Unknown(u8),
}

impl RejectReason {
    /// Decodes the `uint8` the contract emits.
    pub fn from_abi(value: u8) -> Self {
        use RejectReason::*;
        const ORDER: [RejectReason; 13] = [
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
        ];
        ORDER.get(value as usize).copied().unwrap_or(Unknown(value))
    }
}
