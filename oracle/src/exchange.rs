//! The exchange of signed observations between reporters, and the assembly of a round.
//!
//! A round needs a quorum of reporters' signatures in one `submitRound`, so each reporter serves
//! its latest signed observation per feed (`GET /observations/{feed}`) and, when a feed must be
//! reported, gathers its peers' ([`Peers::gather`]): each is checked against its claimed signer's
//! signature before it is kept. [`assemble`] then keeps what the hub would accept (authorized
//! signers, observed after the last round, not in the future, not too old; one per signer, the
//! newest) sorted by signer, strictly ascending, as the hub requires.

use std::time::Duration;

use alloy::{
    primitives::Address,
    sol_types::Eip712Domain,
    transports::http::reqwest::{Client, StatusCode, Url},
};
use cogrid_bindings::OracleHub;
use tracing::{debug, warn};

use crate::{
    config::FeedKind,
    observation::{BadSignature, SignedObservation},
};

/// Why a peer's observation is not in this round.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PeerError {
    /// The peer did not answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request failed (the peer is down or unreachable).
    #[error("request failed: {0}")]
    Transport(String),
    /// The peer has no observation of this feed yet.
    #[error("has no observation of this feed yet")]
    NoObservation,
    /// The peer answered with another error status.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The answer is not a signed observation.
    #[error("answered something that is not a signed observation: {0}")]
    Malformed(String),
    /// The answer is an observation of another feed.
    #[error("answered an observation of {0}")]
    OtherFeed(FeedKind),
    /// The signature is not the claimed signer's.
    #[error(transparent)]
    Signature(#[from] BadSignature),
}

/// The other reporters' HTTP endpoints.
#[derive(Debug, Clone)]
pub struct Peers {
    client: Client,
    urls: Vec<Url>,
    timeout: Duration,
}

impl Peers {
    /// Peers at `urls`, asked with `client`, each given `timeout` to answer.
    pub fn new(client: Client, urls: Vec<Url>, timeout: Duration) -> Self {
        Self {
            client,
            urls,
            timeout,
        }
    }

    /// The peers' base URLs.
    pub fn urls(&self) -> &[Url] {
        &self.urls
    }

    /// Asks every peer at once for its latest observation of `feed`; each result is in the order
    /// of [`Peers::urls`], and an `Ok` observation's signature has been checked for `domain`.
    pub async fn gather(
        &self,
        feed: FeedKind,
        domain: &Eip712Domain,
    ) -> Vec<Result<SignedObservation, PeerError>> {
        // All at once: each request has its own timeout, so the wait is the slowest peer's
        // timeout, not their sum.
        let asks: Vec<_> = self
            .urls
            .iter()
            .map(|url| {
                let (peers, url, domain) = (self.clone(), url.clone(), domain.clone());
                tokio::spawn(async move { peers.ask(&url, feed, &domain).await })
            })
            .collect();
        let mut results = Vec::with_capacity(asks.len());
        for ask in asks {
            results.push(
                ask.await
                    .unwrap_or_else(|error| Err(PeerError::Transport(error.to_string()))),
            );
        }
        for (url, result) in self.urls.iter().zip(&results) {
            match result {
                Ok(observation) => {
                    debug!(%feed, peer = %url, signer = %observation.signer, answer = observation.answer, "peer observation");
                }
                Err(error) => warn!(%feed, peer = %url, %error, "peer observation left out"),
            }
        }
        results
    }

    async fn ask(
        &self,
        base: &Url,
        feed: FeedKind,
        domain: &Eip712Domain,
    ) -> Result<SignedObservation, PeerError> {
        let url = observation_url(base, feed);
        let failed = |error: alloy::transports::http::reqwest::Error| {
            if error.is_timeout() {
                PeerError::Timeout(self.timeout)
            } else {
                PeerError::Transport(error.to_string())
            }
        };
        let response = self
            .client
            .get(url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(failed)?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(PeerError::NoObservation),
            status => return Err(PeerError::Status(status.as_u16())),
        }
        let body = response.bytes().await.map_err(failed)?;
        let observation: SignedObservation = serde_json::from_slice(&body)
            .map_err(|error| PeerError::Malformed(error.to_string()))?;
        if observation.feed != feed {
            return Err(PeerError::OtherFeed(observation.feed));
        }
        observation.verify(domain)?;
        Ok(observation)
    }
}

/// `{base}/observations/{FEED}`; a base with a path keeps it (`https://coop.example/oracle/`).
pub fn observation_url(base: &Url, feed: FeedKind) -> Url {
    let mut url = base.clone();
    url.path_segments_mut()
        .map(|mut segments| {
            segments
                .pop_if_empty()
                .extend(["observations", &feed.to_string()]);
        })
        .expect("http(s) URLs have a path");
    url
}

/// What the hub accepts of an observation, from its latest round and its feed config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundRules {
    /// The latest round's `updatedAt` (0 before the first round): observations must be newer.
    pub updated_at: u64,
    /// Now (unix seconds): observations from the future are refused.
    pub now: u64,
    /// The oldest an observation may be, in seconds.
    pub max_age: u64,
}

/// Why an observation is left out of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOut {
    /// Its signer is not an authorized reporter.
    Unauthorized,
    /// Observed at or before the latest round landed, or longer ago than the rules allow.
    Stale,
    /// Observed after now (the signer's clock runs ahead).
    Future,
    /// Another observation of the same signer is newer.
    Superseded,
}

/// A round ready to submit, and what was left out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// The observations, sorted by signer strictly ascending.
    pub observations: Vec<SignedObservation>,
    /// The observations left out, with why.
    pub left_out: Vec<(SignedObservation, LeftOut)>,
}

impl Round {
    /// The place of `signer` among the round's signers (0 first), or `None` when it has no
    /// observation in the round.
    pub fn rank(&self, signer: Address) -> Option<usize> {
        self.observations
            .iter()
            .position(|observation| observation.signer == signer)
    }

    /// The `submitRound` call carrying the round.
    pub fn call(&self, feed: FeedKind) -> OracleHub::submitRoundCall {
        OracleHub::submitRoundCall {
            feed: feed.id(),
            observations: self
                .observations
                .iter()
                .map(SignedObservation::to_call)
                .collect(),
        }
    }

    /// The answers' median, as the hub will compute it.
    pub fn median(&self) -> Option<i64> {
        let answers: Vec<i64> = self.observations.iter().map(|o| o.answer).collect();
        crate::aggregate::median(&answers)
    }
}

/// Keeps the observations (of one feed, signatures checked) the hub would accept under `rules`,
/// one per signer, sorted by signer.
pub fn assemble(
    observations: impl IntoIterator<Item = SignedObservation>,
    is_reporter: impl Fn(Address) -> bool,
    rules: RoundRules,
) -> Round {
    let mut kept: Vec<SignedObservation> = Vec::new();
    let mut left_out = Vec::new();
    for observation in observations {
        let reason = if !is_reporter(observation.signer) {
            Some(LeftOut::Unauthorized)
        } else if observation.observed_at > rules.now {
            Some(LeftOut::Future)
        } else if observation.observed_at <= rules.updated_at
            || rules.now - observation.observed_at > rules.max_age
        {
            Some(LeftOut::Stale)
        } else {
            None
        };
        match reason {
            Some(reason) => left_out.push((observation, reason)),
            None => kept.push(observation),
        }
    }
    // Newest first within a signer, so that the first of each signer is the one kept.
    kept.sort_by(|a, b| {
        a.signer
            .cmp(&b.signer)
            .then(b.observed_at.cmp(&a.observed_at))
    });
    let mut observations: Vec<SignedObservation> = Vec::with_capacity(kept.len());
    for observation in kept {
        if observations
            .last()
            .is_some_and(|last| last.signer == observation.signer)
        {
            left_out.push((observation, LeftOut::Superseded));
        } else {
            observations.push(observation);
        }
    }
    Round {
        observations,
        left_out,
    }
}

#[cfg(test)]
mod tests {
    use alloy::signers::local::PrivateKeySigner;
    use proptest::prelude::*;

    use cogrid_chain::hub_domain;

    use super::*;

    fn observation(signer: u8, answer: i64, observed_at: u64) -> SignedObservation {
        SignedObservation {
            feed: FeedKind::Temperature,
            answer,
            observed_at,
            signer: Address::repeat_byte(signer),
            r: Default::default(),
            vs: Default::default(),
        }
    }

    const RULES: RoundRules = RoundRules {
        updated_at: 1_000,
        now: 2_000,
        max_age: 300,
    };

    #[test]
    fn the_url_of_a_peer_keeps_its_path() {
        let base = Url::parse("http://127.0.0.1:9104").unwrap();
        assert_eq!(
            observation_url(&base, FeedKind::SpotPrice).as_str(),
            "http://127.0.0.1:9104/observations/SPOT_PRICE"
        );
        let base = Url::parse("https://coop.example/oracle/").unwrap();
        assert_eq!(
            observation_url(&base, FeedKind::Temperature).as_str(),
            "https://coop.example/oracle/observations/TEMPERATURE"
        );
    }

    #[test]
    fn a_round_keeps_what_the_hub_accepts_sorted_by_signer() {
        let round = assemble(
            [
                observation(3, 30, 1_900),
                observation(1, 10, 1_950),
                observation(2, 20, 1_000), // as old as the last round
                observation(4, 40, 1_600), // older than max_age
                observation(5, 50, 2_001), // from the future
                observation(6, 60, 1_990), // not a reporter
                observation(1, 11, 1_960), // newer than signer 1's other one
            ],
            |signer| signer != Address::repeat_byte(6),
            RULES,
        );
        let signers: Vec<Address> = round.observations.iter().map(|o| o.signer).collect();
        assert_eq!(signers, [Address::repeat_byte(1), Address::repeat_byte(3)]);
        assert_eq!(round.observations[0].answer, 11);
        let reasons: Vec<(u8, LeftOut)> = round
            .left_out
            .iter()
            .map(|(o, why)| (o.signer.0[0], *why))
            .collect();
        assert_eq!(
            reasons,
            [
                (2, LeftOut::Stale),
                (4, LeftOut::Stale),
                (5, LeftOut::Future),
                (6, LeftOut::Unauthorized),
                (1, LeftOut::Superseded)
            ]
        );
        assert_eq!(round.rank(Address::repeat_byte(3)), Some(1));
        assert_eq!(round.rank(Address::repeat_byte(2)), None);
        assert_eq!(round.median(), Some(20));
    }

    #[test]
    fn the_call_carries_the_feed_id_and_the_signatures() {
        let signer = PrivateKeySigner::random();
        let domain = hub_domain(31337, Address::repeat_byte(9));
        let signed =
            SignedObservation::sign(&signer, &domain, FeedKind::Temperature, -180, 1_900).unwrap();
        let round = assemble([signed.clone()], |_| true, RULES);
        let call = round.call(FeedKind::Temperature);
        assert_eq!(call.feed, 2);
        assert_eq!(call.observations, [signed.to_call()]);
    }

    proptest! {
        #[test]
        fn a_round_is_strictly_ascending_authorized_and_fresh(
            raw in proptest::collection::vec((0u8..8, any::<i32>(), 900u64..2_100), 0..24),
        ) {
            let observations: Vec<SignedObservation> = raw
                .iter()
                .map(|(signer, answer, at)| observation(*signer, i64::from(*answer), *at))
                .collect();
            let authorized = |signer: Address| !signer.0[0].is_multiple_of(3);
            let round = assemble(observations.clone(), authorized, RULES);
            prop_assert_eq!(round.observations.len() + round.left_out.len(), observations.len());
            for pair in round.observations.windows(2) {
                prop_assert!(pair[0].signer < pair[1].signer);
            }
            for kept in &round.observations {
                prop_assert!(authorized(kept.signer));
                prop_assert!(kept.observed_at > RULES.updated_at && kept.observed_at <= RULES.now);
                prop_assert!(RULES.now - kept.observed_at <= RULES.max_age);
                // The newest acceptable observation of its signer.
                prop_assert!(observations.iter().all(|o| o.signer != kept.signer
                    || o.observed_at <= kept.observed_at
                    || o.observed_at > RULES.now));
            }
        }
    }
}
