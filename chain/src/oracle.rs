//! OracleHub from the chain side: the EIP-712 domain its reporters sign for, the feed rules a
//! deployment sets, deploying it with an `OracleFeed` (Chainlink `AggregatorV3Interface`) per
//! feed, and authorizing reporters.

use alloy::{
    primitives::{Address, I256},
    providers::DynProvider,
    sol_types::{Eip712Domain, eip712_domain},
};
use cogrid_bindings::{OracleFeed, OracleHub};

use crate::{ChainError, devnet::confirm};

/// The EIP-712 domain of an OracleHub deployment, which reporters sign observations for.
pub fn hub_domain(chain_id: u64, hub: Address) -> Eip712Domain {
    eip712_domain! {
        name: "cogrid OracleHub",
        version: "1",
        chain_id: chain_id,
        verifying_contract: hub,
    }
}

/// One feed's rules in OracleHub (`setFeedConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedRules {
    /// The fewest reporters' observations a round needs.
    pub quorum: u8,
    /// Seconds after which the answer is stale and an observation too old.
    pub heartbeat: u32,
    /// The lowest median a round may have, in the feed's unit.
    pub min_answer: i64,
    /// The highest median a round may have, in the feed's unit.
    pub max_answer: i64,
}

/// The rules [`crate::deploy_suite`] sets, indexed by feed id (`SPOT_PRICE`,
/// `SOLAR_IRRADIANCE`, `TEMPERATURE`, `CARBON_INTENSITY`): the same as `script/Deploy.s.sol`'s
/// `_configureFeeds`, so a devnet behaves like a deployment. Quorum 2 of the co-ops' reporters,
/// an hour's heartbeat, and bounds that only a physically impossible value passes.
pub const FEED_RULES: [FeedRules; 4] = [
    // Stablecoin base units (6 decimals) per MWh; EU day-ahead and intraday prices are
    // harmonised within -9,999 and 9,999 EUR/MWh.
    FeedRules {
        quorum: 2,
        heartbeat: 3_600,
        min_answer: -10_000_000_000,
        max_answer: 10_000_000_000,
    },
    // W/m²; the solar constant is 1,361 W/m² and the ground sees less.
    FeedRules {
        quorum: 2,
        heartbeat: 3_600,
        min_answer: 0,
        max_answer: 1_500,
    },
    // Centi-degrees Celsius: -60 to 60 °C.
    FeedRules {
        quorum: 2,
        heartbeat: 3_600,
        min_answer: -6_000,
        max_answer: 6_000,
    },
    // gCO2e/kWh; lignite, the dirtiest grid supply, is about 1,100.
    FeedRules {
        quorum: 2,
        heartbeat: 3_600,
        min_answer: 0,
        max_answer: 2_000,
    },
];

/// Deploys OracleHub administered by `admin` (`provider`'s wallet), sets every feed's
/// [`FEED_RULES`] and deploys an `OracleFeed` per feed; the hub and the feeds by id.
pub(crate) async fn deploy_oracle(
    provider: &DynProvider,
    admin: Address,
) -> Result<(Address, [Address; 4]), ChainError> {
    let failed = |what: &'static str| {
        move |error: alloy::contract::Error| ChainError::Deploy {
            what,
            message: error.to_string(),
        }
    };
    let hub = OracleHub::deploy(provider.clone(), admin)
        .await
        .map_err(failed("OracleHub"))?;
    let mut feeds = [Address::ZERO; 4];
    for (id, rules) in (0u8..).zip(FEED_RULES) {
        confirm(
            "OracleHub.setFeedConfig",
            hub.setFeedConfig(
                id,
                rules.quorum,
                rules.heartbeat,
                I256::try_from(rules.min_answer).expect("every i64 fits in int256"),
                I256::try_from(rules.max_answer).expect("every i64 fits in int256"),
            )
            .send()
            .await,
        )
        .await?;
        feeds[usize::from(id)] = *OracleFeed::deploy(provider.clone(), *hub.address(), id)
            .await
            .map_err(failed("OracleFeed"))?
            .address();
    }
    Ok((*hub.address(), feeds))
}

/// Authorizes `reporters` to sign OracleHub observations (`REPORTER_ROLE`); `provider`'s wallet
/// must be the hub's admin. The hub holds at most `MAX_REPORTERS`.
pub async fn grant_reporters(
    provider: &DynProvider,
    hub: Address,
    reporters: &[Address],
) -> Result<(), ChainError> {
    let hub = OracleHub::new(hub, provider.clone());
    let role = hub
        .REPORTER_ROLE()
        .call()
        .await
        .map_err(|error| ChainError::Deploy {
            what: "OracleHub.REPORTER_ROLE",
            message: error.to_string(),
        })?;
    for reporter in reporters {
        confirm(
            "OracleHub.grantRole",
            hub.grantRole(role, *reporter).send().await,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy::{signers::local::PrivateKeySigner, sol_types::SolStruct};
    use cogrid_bindings::IOracleHub;

    use super::*;
    use crate::{Devnet, SuiteParams, deploy_suite};

    alloy::sol! {
        /// OracleHub's EIP-712 type, to compare the hub's digest with this crate's domain.
        struct Observation {
            uint8 feed;
            int256 answer;
            uint64 observedAt;
        }
    }

    #[tokio::test]
    async fn the_suite_deploys_the_hub_with_its_feeds_and_grants_reporters() {
        let devnet = Devnet::start()
            .expect("anvil must be installed: run `make install` (npm ci in contracts/)");
        let admin = devnet.admin_key.address();
        let deployment = deploy_suite(&devnet.admin, admin, SuiteParams::default())
            .await
            .unwrap();
        let hub = OracleHub::new(deployment.oracle_hub, devnet.admin.clone());
        for (id, rules) in (0u8..).zip(FEED_RULES) {
            assert_eq!(
                hub.feedConfig(id).call().await.unwrap(),
                IOracleHub::FeedConfig {
                    quorum: rules.quorum,
                    heartbeat: rules.heartbeat,
                    minAnswer: I256::try_from(rules.min_answer).unwrap(),
                    maxAnswer: I256::try_from(rules.max_answer).unwrap(),
                    latestRoundId: Default::default(),
                }
            );
            let feed = OracleFeed::new(
                deployment.oracle_feeds[usize::from(id)],
                devnet.admin.clone(),
            );
            assert_eq!(feed.HUB().call().await.unwrap(), deployment.oracle_hub);
            assert_eq!(feed.FEED().call().await.unwrap(), id);
        }
        assert!(hub.isStale(0).call().await.unwrap(), "no round yet");

        let reporters = [
            devnet.funded_key(1).address(),
            devnet.funded_key(2).address(),
        ];
        assert!(!hub.isReporter(reporters[0]).call().await.unwrap());
        grant_reporters(&devnet.admin, deployment.oracle_hub, &reporters)
            .await
            .unwrap();
        for reporter in reporters {
            assert!(hub.isReporter(reporter).call().await.unwrap());
        }
        assert!(!hub.isReporter(admin).call().await.unwrap());

        let domain = hub_domain(deployment.chain_id, deployment.oracle_hub);
        assert_eq!(
            hub.domainSeparator().call().await.unwrap(),
            domain.separator()
        );
        let observation = Observation {
            feed: 2,
            answer: I256::try_from(-180).unwrap(),
            observedAt: 1_717_243_800,
        };
        assert_eq!(
            hub.observationDigest(2, observation.answer, observation.observedAt)
                .call()
                .await
                .unwrap(),
            observation.eip712_signing_hash(&domain)
        );
    }

    #[tokio::test]
    async fn only_the_hubs_admin_grants_reporters() {
        let devnet = Devnet::start()
            .expect("anvil must be installed: run `make install` (npm ci in contracts/)");
        let deployment = deploy_suite(
            &devnet.admin,
            devnet.admin_key.address(),
            SuiteParams::default(),
        )
        .await
        .unwrap();
        let outsider: PrivateKeySigner = devnet.funded_key(3);
        let provider = crate::connect_lazily(&devnet.rpc_url(), outsider.clone()).unwrap();
        let error = grant_reporters(&provider, deployment.oracle_hub, &[outsider.address()])
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ChainError::Deploy {
                    what: "OracleHub.grantRole",
                    ..
                }
            ),
            "{error}"
        );
    }
}
