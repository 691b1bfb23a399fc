use alloy::{
    primitives::{
        Address, B256,
        aliases::{U40, U48},
    },
    signers::{Error as SignerError, SignerSync},
    sol,
    sol_types::{Eip712Domain, SolStruct, eip712_domain},
};
use serde::{Deserialize, Serialize};

use crate::ChainError;

sol! {
    /// A meter's cumulative registers at the end of an interval, as the meter signs them
    /// (EIP-712 type `Reading` of the MeterRegistry contract).
    #[derive(Debug, PartialEq, Eq)]
    struct Reading {
        /// The meter's signing-key address, which is also its id on chain.
        address meter;
        /// Increases by one with every reading the meter signs.
        uint32 seq;
        /// Unix time of the interval boundary the registers were read at.
        uint40 intervalEnd;
        /// Cumulative import register (Wh delivered to the home).
        uint48 importWh;
        /// Cumulative export register (Wh delivered by the home).
        uint48 exportWh;
    }
}

impl Reading {
    /// A reading from plain integers; errs when a value does not fit its on-chain width
    /// (a boundary past the year 36812, or a register above 281 TWh).
    pub fn new(
        meter: Address,
        seq: u32,
        interval_end: u64,
        import_wh: u64,
        export_wh: u64,
    ) -> Result<Self, ChainError> {
        let out_of_range =
            |field: &'static str, value: u64| ChainError::ReadingOutOfRange { field, value };
        Ok(Self {
            meter,
            seq,
            intervalEnd: U40::try_from(interval_end)
                .map_err(|_| out_of_range("intervalEnd", interval_end))?,
            importWh: U48::try_from(import_wh).map_err(|_| out_of_range("importWh", import_wh))?,
            exportWh: U48::try_from(export_wh).map_err(|_| out_of_range("exportWh", export_wh))?,
        })
    }
}

/// A reading with its EIP-2098 compact signature `(r, vs)`, as MeterRegistry takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReading {
    /// The meter's signing-key address.
    pub meter: Address,
    /// Reading sequence number.
    pub seq: u32,
    /// Interval boundary (unix seconds).
    pub interval_end: u64,
    /// Cumulative import register in Wh.
    pub import_wh: u64,
    /// Cumulative export register in Wh.
    pub export_wh: u64,
    /// Signature `r`.
    pub r: B256,
    /// Signature `s` with the y-parity in its top bit.
    pub vs: B256,
}

impl SignedReading {
    /// The signed message.
    pub fn reading(&self) -> Reading {
        Reading {
            meter: self.meter,
            seq: self.seq,
            intervalEnd: U40::from(self.interval_end),
            importWh: U48::from(self.import_wh),
            exportWh: U48::from(self.export_wh),
        }
    }

    /// Whether the signature is the meter's own over this reading for `domain` (a high-`s` or
    /// malformed signature is not).
    pub fn signed_by_meter(&self, domain: &Eip712Domain) -> bool {
        let mut compact = [0u8; 64];
        compact[..32].copy_from_slice(self.r.as_slice());
        compact[32..].copy_from_slice(self.vs.as_slice());
        let digest = self.reading().eip712_signing_hash(domain);
        let signature = alloy::primitives::Signature::from_erc2098(&compact);
        // Contracts (OpenZeppelin's ECDSA, the registry's) refuse the malleable high-s twin.
        let low_s = signature.normalize_s().is_none();
        low_s
            && signature
                .recover_address_from_prehash(&digest)
                .is_ok_and(|signer| signer == self.meter)
    }
}

/// The EIP-712 domain of a MeterRegistry deployment.
pub fn reading_domain(chain_id: u64, registry: Address) -> Eip712Domain {
    eip712_domain! {
        name: "cogrid MeterRegistry",
        version: "1",
        chain_id: chain_id,
        verifying_contract: registry,
    }
}

/// Signs `reading` for `domain`. The signer must be the meter's own key.
pub fn sign_reading<S: SignerSync>(
    signer: &S,
    domain: &Eip712Domain,
    reading: &Reading,
) -> Result<SignedReading, SignerError> {
    let digest: B256 = reading.eip712_signing_hash(domain);
    let compact = signer.sign_hash_sync(&digest)?.as_erc2098();
    Ok(SignedReading {
        meter: reading.meter,
        seq: reading.seq,
        interval_end: reading.intervalEnd.to(),
        import_wh: reading.importWh.to(),
        export_wh: reading.exportWh.to(),
        r: B256::from_slice(&compact[..32]),
        vs: B256::from_slice(&compact[32..]),
    })
}

#[cfg(test)]
mod tests {
    use alloy::signers::local::PrivateKeySigner;

    use super::*;

    #[test]
    fn signature_recovers_to_the_meter() {
        let signer = PrivateKeySigner::random();
        let domain = reading_domain(31337, Address::repeat_byte(7));
        let reading = Reading {
            meter: signer.address(),
            seq: 5,
            intervalEnd: U40::from(1_700_000_100u64),
            importWh: U48::from(1_234_567u64),
            exportWh: U48::from(89u64),
        };
        let signed = sign_reading(&signer, &domain, &reading).unwrap();
        assert!(signed.signed_by_meter(&domain));
        assert_eq!(signed.reading(), reading);
        // Another register, another domain or another meter's key: not the meter's signature.
        let tampered = SignedReading {
            export_wh: 90,
            ..signed.clone()
        };
        assert!(!tampered.signed_by_meter(&domain));
        assert!(!signed.signed_by_meter(&reading_domain(10, Address::repeat_byte(7))));
        let other = sign_reading(&PrivateKeySigner::random(), &domain, &reading).unwrap();
        assert!(!other.signed_by_meter(&domain));
    }

    #[test]
    fn values_beyond_the_on_chain_widths_are_refused() {
        assert!(Reading::new(Address::ZERO, 1, 1 << 40, 0, 0).is_err());
        assert!(Reading::new(Address::ZERO, 1, 900, 1 << 48, 0).is_err());
        assert!(Reading::new(Address::ZERO, 1, 900, 0, (1 << 48) - 1).is_ok());
    }

    #[test]
    fn the_domain_binds_chain_and_contract() {
        let reading = Reading {
            meter: Address::ZERO,
            seq: 1,
            intervalEnd: U40::from(900u64),
            importWh: U48::ZERO,
            exportWh: U48::ZERO,
        };
        let base = reading.eip712_signing_hash(&reading_domain(1, Address::repeat_byte(1)));
        let other_chain = reading.eip712_signing_hash(&reading_domain(2, Address::repeat_byte(1)));
        let other_contract =
            reading.eip712_signing_hash(&reading_domain(1, Address::repeat_byte(2)));
        assert_ne!(base, other_chain);
        assert_ne!(base, other_contract);
    }
}
