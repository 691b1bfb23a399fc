//! A reporter's observation of a feed, signed with EIP-712 as OracleHub checks it:
//! domain `cogrid OracleHub` version `1` on the chain and hub address, type
//! `Observation(uint8 feed,int256 answer,uint64 observedAt)`, signature in EIP-2098 compact form.

use alloy::{
    primitives::{Address, B256, I256, Signature},
    signers::{Error as SignerError, SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::{Eip712Domain, SolStruct},
};
use cogrid_bindings::IOracleHub;
use serde::{Deserialize, Serialize};

use crate::config::FeedKind;

sol! {
    /// The message a reporter signs (EIP-712 type `Observation` of OracleHub).
    #[derive(Debug, PartialEq, Eq)]
    struct Observation {
        /// The feed's id.
        uint8 feed;
        /// The value, in the feed's on-chain unit.
        int256 answer;
        /// Unix time the value was observed at.
        uint64 observedAt;
    }
}

/// An observation with its signer and signature: what a reporter serves at
/// `/observations/{feed}` and what a round is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedObservation {
    /// The feed.
    pub feed: FeedKind,
    /// The value, in the feed's on-chain unit.
    pub answer: i64,
    /// Unix time the value was observed at.
    pub observed_at: u64,
    /// The reporter that signed it (recovered and compared by [`SignedObservation::verify`]).
    pub signer: Address,
    /// Signature `r`.
    pub r: B256,
    /// Signature `s` with the y-parity in its top bit.
    pub vs: B256,
}

/// Why a signed observation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSignature {
    /// The signature does not recover to any key.
    #[error("the signature does not recover to a key")]
    Unrecoverable,
    /// The signature is another key's than the claimed signer's.
    #[error("signed by {recovered}, not by the claimed signer {claimed}")]
    WrongSigner {
        /// Who the observation says signed it.
        claimed: Address,
        /// Who did.
        recovered: Address,
    },
}

impl SignedObservation {
    /// The signed message.
    pub fn message(&self) -> Observation {
        Observation {
            feed: self.feed.id(),
            answer: I256::try_from(self.answer).expect("every i64 fits in int256"),
            observedAt: self.observed_at,
        }
    }

    /// Signs `answer` of `feed`, observed at `observed_at`, with `signer` for `domain`.
    pub fn sign(
        signer: &PrivateKeySigner,
        domain: &Eip712Domain,
        feed: FeedKind,
        answer: i64,
        observed_at: u64,
    ) -> Result<Self, SignerError> {
        let mut signed = Self {
            feed,
            answer,
            observed_at,
            signer: signer.address(),
            r: B256::ZERO,
            vs: B256::ZERO,
        };
        let compact = signer
            .sign_hash_sync(&signed.message().eip712_signing_hash(domain))?
            .as_erc2098();
        signed.r = B256::from_slice(&compact[..32]);
        signed.vs = B256::from_slice(&compact[32..]);
        Ok(signed)
    }

    /// Checks that the signature over this observation for `domain` is `signer`'s.
    pub fn verify(&self, domain: &Eip712Domain) -> Result<(), BadSignature> {
        let mut compact = [0u8; 64];
        compact[..32].copy_from_slice(self.r.as_slice());
        compact[32..].copy_from_slice(self.vs.as_slice());
        let recovered = Signature::from_erc2098(&compact)
            .recover_address_from_prehash(&self.message().eip712_signing_hash(domain))
            .map_err(|_| BadSignature::Unrecoverable)?;
        if recovered == self.signer {
            Ok(())
        } else {
            Err(BadSignature::WrongSigner {
                claimed: self.signer,
                recovered,
            })
        }
    }

    /// The observation as `submitRound` takes it.
    pub fn to_call(&self) -> IOracleHub::SignedObservation {
        IOracleHub::SignedObservation {
            answer: self.message().answer,
            observedAt: self.observed_at,
            r: self.r,
            vs: self.vs,
        }
    }
}

#[cfg(test)]
mod tests {
    use cogrid_chain::hub_domain;

    use super::*;

    fn domain() -> Eip712Domain {
        hub_domain(31337, Address::repeat_byte(0x42))
    }

    fn signed(signer: &PrivateKeySigner, answer: i64) -> SignedObservation {
        SignedObservation::sign(
            signer,
            &domain(),
            FeedKind::SpotPrice,
            answer,
            1_700_000_000,
        )
        .unwrap()
    }

    #[test]
    fn the_type_string_is_the_hubs() {
        assert_eq!(
            Observation::eip712_encode_type(),
            "Observation(uint8 feed,int256 answer,uint64 observedAt)"
        );
    }

    #[test]
    fn a_signed_observation_verifies_and_survives_json() {
        let signer = PrivateKeySigner::random();
        let observation = signed(&signer, -12_345);
        let json = serde_json::to_string(&observation).unwrap();
        let back: SignedObservation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, observation);
        back.verify(&domain()).unwrap();
        assert_eq!(back.to_call().answer, I256::try_from(-12_345).unwrap());
    }

    #[test]
    fn a_changed_answer_or_another_domain_fails_verification() {
        let signer = PrivateKeySigner::random();
        let mut observation = signed(&signer, 100);
        observation.answer = 101;
        assert!(matches!(
            observation.verify(&domain()),
            Err(BadSignature::WrongSigner { .. })
        ));
        let observation = signed(&signer, 100);
        assert!(
            observation
                .verify(&hub_domain(1, Address::repeat_byte(0x42)))
                .is_err()
        );
    }

    #[test]
    fn a_claimed_signer_that_did_not_sign_is_refused() {
        let signer = PrivateKeySigner::random();
        let mut observation = signed(&signer, 100);
        observation.signer = Address::repeat_byte(7);
        assert_eq!(
            observation.verify(&domain()),
            Err(BadSignature::WrongSigner {
                claimed: Address::repeat_byte(7),
                recovered: signer.address(),
            })
        );
    }
}
