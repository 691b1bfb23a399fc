//! OracleHub's interface as `oracle-interface.md` fixes it, for the reporter's calls.
//!
//! Replaced by `cogrid_bindings::OracleHub` once the contract's bindings are generated: this
//! module is the only place the reporter declares the hub, so the swap is one `use`.
#![allow(missing_docs)]

alloy::sol! {
    /// The part of OracleHub a reporter uses.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    interface OracleHub {
        /// A reporter's signed observation as a round carries it; `vs` is the EIP-2098 compact
        /// form of `s` and the y-parity.
        struct SignedObservation {
            int256 answer;
            uint64 observedAt;
            bytes32 r;
            bytes32 vs;
        }

        event RoundSubmitted(uint8 indexed feed, uint80 indexed roundId, int256 answer, uint256 observations);

        function submitRound(uint8 feed, SignedObservation[] calldata observations) external returns (uint80 roundId);

        function latestRound(uint8 feed) external view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt);

        /// The interface names the leading fields (quorum, heartbeat, min, max); a static struct
        /// or tuple with more fields after them decodes the same way.
        function feedConfig(uint8 feed) external view returns (uint256 quorum, uint256 heartbeat, int256 min, int256 max);

        function isReporter(address account) external view returns (bool);

        function domainSeparator() external view returns (bytes32);

        function observationDigest(uint8 feed, int256 answer, uint64 observedAt) external view returns (bytes32);
    }
}
