use alloy::{
    network::EthereumWallet,
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log},
    signers::local::PrivateKeySigner,
    transports::http::reqwest::Url,
};

use crate::ChainError;

/// A provider for `rpc_url` with `signer` as the sending wallet, without contacting the node:
/// for daemons that must start (and keep their data) while the chain is unreachable.
///
/// The nonce is asked of the node for every transaction rather than cached: a daemon that sends
/// one transaction at a time must recover by itself when a reorg or a restarted node drops one,
/// and a cached nonce would leave every later transaction stuck behind the gap.
pub fn connect_lazily(rpc_url: &str, signer: PrivateKeySigner) -> Result<DynProvider, ChainError> {
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_http(parse_url(rpc_url)?)
        .erased();
    poll_quickly_when_local(&provider);
    Ok(provider)
}

/// How often a receipt is polled for on a node on this machine. alloy's default (250 ms) is
/// longer than a devnet takes to mine, so a daemon waiting for its receipts on anvil (the tests,
/// the simulator) would idle most of each wait.
const LOCAL_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

/// Polls a node on this machine every [`LOCAL_POLL_INTERVAL`]; a remote node keeps alloy's
/// interval.
pub fn poll_quickly_when_local(provider: &DynProvider) {
    let client = provider.client();
    if client.is_local() {
        client.set_poll_interval(LOCAL_POLL_INTERVAL);
    }
}

/// Checks that the node behind `provider` answers and serves `expected_chain_id`.
pub async fn check_chain(
    provider: &DynProvider,
    rpc_url: &str,
    expected_chain_id: Option<u64>,
) -> Result<(), ChainError> {
    let actual = provider
        .get_chain_id()
        .await
        .map_err(|error| ChainError::RpcUnreachable {
            url: rpc_url.to_owned(),
            message: error.to_string(),
        })?;
    match expected_chain_id {
        Some(expected) if expected != actual => Err(ChainError::WrongChain {
            url: rpc_url.to_owned(),
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}

/// Connects to `rpc_url` with `signer` as the sending wallet, and checks that the node is reachable
/// and, when `expected_chain_id` is given, that it serves that chain.
pub async fn connect(
    rpc_url: &str,
    signer: PrivateKeySigner,
    expected_chain_id: Option<u64>,
) -> Result<DynProvider, ChainError> {
    let provider = connect_lazily(rpc_url, signer)?;
    check_chain(&provider, rpc_url, expected_chain_id).await?;
    Ok(provider)
}

fn parse_url(rpc_url: &str) -> Result<Url, ChainError> {
    rpc_url
        .parse::<Url>()
        .map_err(|error| ChainError::BadRpcUrl {
            url: rpc_url.to_owned(),
            message: error.to_string(),
        })
}

/// The logs matching `filter` from block `first` to the latest. A node that refuses a range (public
/// L2 endpoints cap the blocks or the results of one `eth_getLogs`) gets it in halves, until it
/// answers; `rpc_url` names the node in errors.
pub async fn logs_since(
    provider: &DynProvider,
    rpc_url: &str,
    filter: &Filter,
    first: u64,
) -> Result<Vec<Log>, ChainError> {
    let latest = provider
        .get_block_number()
        .await
        .map_err(|error| ChainError::RpcUnreachable {
            url: rpc_url.to_owned(),
            message: error.to_string(),
        })?;
    let mut ranges = vec![(first, latest)];
    let mut logs = Vec::new();
    while let Some((first, last)) = ranges.pop() {
        if first > last {
            continue;
        }
        let range = filter.clone().from_block(first).to_block(last);
        match provider.get_logs(&range).await {
            Ok(found) => logs.extend(found),
            Err(error) if error.is_error_resp() && first < last => {
                let middle = first + (last - first) / 2;
                ranges.push((middle + 1, last));
                ranges.push((first, middle));
            }
            Err(error) => {
                return Err(ChainError::Read {
                    what: "eth_getLogs",
                    message: format!("blocks {first}..={last} from {rpc_url}: {error}"),
                });
            }
        }
    }
    Ok(logs)
}

/// The first block at or after block `from` whose timestamp is `time` or later (the block after
/// the latest when none is yet): a binary search over block timestamps, about 30 requests on a
/// chain of a billion blocks.
pub async fn first_block_at_or_after(
    provider: &DynProvider,
    rpc_url: &str,
    time: u64,
    from: u64,
) -> Result<u64, ChainError> {
    let failed = |error: alloy::transports::TransportError| ChainError::Read {
        what: "eth_getBlockByNumber",
        message: format!("from {rpc_url}: {error}"),
    };
    let latest = provider.get_block_number().await.map_err(failed)?;
    let (mut low, mut high) = (from, latest + 1);
    while low < high {
        let middle = low + (high - low) / 2;
        let timestamp = provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Number(middle))
            .await
            .map_err(failed)?
            .map_or(u64::MAX, |block| block.header.timestamp);
        if timestamp >= time {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    Ok(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_rpc_names_the_url() {
        // Port 9 (discard) on loopback has no listener here: the connection is refused at once.
        let error = connect("http://127.0.0.1:9", PrivateKeySigner::random(), None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ChainError::RpcUnreachable { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("http://127.0.0.1:9"), "{error}");
    }

    #[tokio::test]
    async fn a_malformed_url_is_refused_before_any_request() {
        let error = connect("not a url", PrivateKeySigner::random(), None)
            .await
            .unwrap_err();
        assert!(matches!(error, ChainError::BadRpcUrl { .. }), "{error}");
    }
}
