//! The report of a simulation, as Markdown (`report.md`) and JSON (`report.json`), from its
//! [`Outcome`] and the conservation [`Check`]s. Pure: no I/O.
//!
//! # `report.json`
//!
//! Keys are stable; money is in stablecoin base units (1 USD = 1,000,000), energy in Wh, prices in
//! base units per kWh, gas in gas units, fees in wei (as decimal strings: they pass 2^53),
//! durations in milliseconds. Fields ending in `_kwh`, `_usd`, `_percent`, `_eth` are the same
//! figures for people, as floating point; a figure with nothing to measure (a mean of no trade,
//! a share of no import) is null. `run.deployment` is the deployment file's object (camelCase).
//!
//! ```text
//! schema                "cogrid-simulate-report/2" (2: `oracle`, carbon released after being
//!                       held, `throughput.keeper_ms` in place of `settlement_ms`)
//! run                   homes, hours, interval_seconds, intervals, seed, day, chain_id,
//!                       tariffs {retail_per_kwh, feed_in_per_kwh, network_fee_per_kwh},
//!                       mix {<kind>: count}, deployment {market, ...}
//! energy                imported_wh, exported_wh, local_wh (bought from neighbours),
//!                       credits_wh (import covered from energy credits), grid_wh (grid supplied),
//!                       local_share_percent, credits_share_percent, grid_share_percent (of import),
//!                       exported_sold_percent, local_kwh, grid_kwh
//! prices                intervals_traded, min_per_kwh, mean_per_kwh, max_per_kwh,
//!                       volume_weighted_mean_per_kwh (null when nothing traded), *_usd_per_kwh
//! bills                 homes [{index, kind, meter, owner, imported_wh, exported_wh, cogrid_bill,
//!                       utility_bill, saving, reduction_percent (null: utility bill <= 0),
//!                       carbon_grams, vpp_paid}],
//!                       total_cogrid, total_utility, average_reduction_percent (mean over homes
//!                       with a positive utility bill), homes_averaged, aggregate_reduction_percent,
//!                       seed_stated_reduction_percent (34), comparison (text)
//! carbon                minted_grams (settled + released), minted_kg, settled_grams (minted as
//!                       intervals settled), released_grams (held while the intensity feed was
//!                       stale, released at the end)
//! vpp                   null, or {event, feeder, start, end (unix s), target_w, enrolled,
//!                       committed_w, delivered_wh, paid, refunded,
//!                       delivered_percent_of_commitment}
//! oracle                reporters, feeds, polls, failed_polls, rounds, observations,
//!                       observations_per_round, transactions, gas_used, carbon_rounds,
//!                       carbon_mismatches [text]
//! gas                   readings, readings_gas, per_reading, settlements, settlement_gas,
//!                       per_settlement, fills, per_fill (settlement gas over the fills it carried)
//! throughput            fills, keeper_ms (the keeper's clearing and settlement),
//!                       fills_per_second
//! cost                  model (text), formula (text), l2_base_fee_wei, l1_base_fee_wei,
//!                       l1_blob_base_fee_wei, base_fee_scalar, blob_base_fee_scalar,
//!                       tx_envelope_bytes, eth_usd, l2_execution_wei, l1_data_wei, total_wei,
//!                       per_home_per_month_wei, per_home_per_month_eth,
//!                       per_home_per_month_usd, months_per_run
//! timings               setup_ms, signing_ms, posting_ms, clearing_ms, settlement_ms, other_ms,
//!                       unaccounted_ms, wall_ms
//! assumptions           [text]
//! checks                [{name, passed, detail}]
//! checks_passed         bool: there were checks and every one passed
//! attribution           [text]
//! ```

use std::{collections::BTreeMap, fmt::Write as _, time::Duration};

use serde_json::{Value, json};

use crate::{
    checks::Check,
    outcome::{OracleOutcome, Outcome},
};

/// The JSON schema's name and version.
pub const SCHEMA: &str = "cogrid-simulate-report/2";

/// The bill reduction the project's brief (issue 6) states, without the conditions behind it.
pub const SEED_STATED_REDUCTION_PERCENT: f64 = 34.0;

/// The data the homes are shaped from, as its licence (CC BY 4.0) asks to credit it.
pub const AUSGRID_ATTRIBUTION: &str = "Household load and PV shapes: Ausgrid Solar home \
     electricity data; extraction by Pierre Haessig (CC BY 4.0): customer 12, July 2011 to \
     June 2012, from pierre-haessig/ausgrid-solar-data.";

/// The L2 fee model behind the cost per home: an OP Stack chain after Ecotone. Every constant
/// is an assumption, stated in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeModel {
    /// L2 base fee, wei per gas (0.005 gwei); the priority fee is taken as zero.
    pub l2_base_fee_wei: u64,
    /// L1 base fee, wei per gas.
    pub l1_base_fee_wei: u64,
    /// L1 blob base fee, wei per blob gas.
    pub l1_blob_base_fee_wei: u64,
    /// Ecotone's `baseFeeScalar`, millionths.
    pub base_fee_scalar: u64,
    /// Ecotone's `blobBaseFeeScalar`, millionths.
    pub blob_base_fee_scalar: u64,
    /// Bytes of a signed transaction besides its calldata (nonce, gas, fees, to, value, chain id,
    /// signature), counted as non-zero.
    pub tx_envelope_bytes: u64,
    /// USD per ETH.
    pub eth_usd: u64,
}

/// The constants the report states: a 0.005 gwei L2 base fee as the brief asks; L1 fees of
/// 1 gwei each (the blob base fee has mostly sat far below that, so this errs on the dear side);
/// OP Mainnet's order of Ecotone scalars; ETH at 3,000 USD.
pub const FEE_MODEL: FeeModel = FeeModel {
    l2_base_fee_wei: 5_000_000,
    l1_base_fee_wei: 1_000_000_000,
    l1_blob_base_fee_wei: 1_000_000_000,
    base_fee_scalar: 5_227,
    blob_base_fee_scalar: 1_014_213,
    tx_envelope_bytes: 110,
    eth_usd: 3_000,
};

const FEE_FORMULA: &str = "fee = gas x L2 base fee + L1 data fee; L1 data fee (Ecotone) = \
     compressed size x (16 x baseFeeScalar x L1 base fee + blobBaseFeeScalar x blob base fee) \
     / 10^6, compressed size = (4 x zero bytes + 16 x non-zero bytes) / 16 over calldata plus \
     the envelope";

/// A month, for the cost per home: 30 days.
const DAYS_PER_MONTH: u64 = 30;

/// The report as Markdown.
pub fn markdown(outcome: &Outcome, checks: &[Check]) -> String {
    let figures = Figures::of(outcome);
    let mut md = String::new();
    let run = outcome;
    let _ = writeln!(md, "# cogrid simulation report\n");
    let _ = writeln!(
        md,
        "{} homes, {} h ({} intervals of {} s) of the bundled day `{}`, seed {}, chain {}.\n",
        run.homes_count,
        run.hours,
        run.intervals.len(),
        run.interval_seconds,
        run.day,
        run.seed,
        run.deployment.chain_id
    );
    let _ = writeln!(
        md,
        "Conservation checks: **{}** ({} of {} passed).\n",
        if all_passed(checks) { "PASS" } else { "FAIL" },
        checks.iter().filter(|check| check.passed).count(),
        checks.len()
    );

    let e = &figures.energy;
    let _ = writeln!(md, "## Energy\n");
    let _ = writeln!(md, "| | kWh | share of import |\n|---|---:|---:|");
    let _ = writeln!(
        md,
        "| bought from neighbours (local) | {} | {} |",
        kwh(e.local_wh),
        optional_percent(e.share(e.local_wh))
    );
    let _ = writeln!(
        md,
        "| covered from energy credits | {} | {} |",
        kwh(e.credits_wh),
        optional_percent(e.share(e.credits_wh))
    );
    let _ = writeln!(
        md,
        "| supplied by the grid | {} | {} |",
        kwh(e.grid_wh),
        optional_percent(e.share(e.grid_wh))
    );
    let _ = writeln!(md, "| **imported** | {} | 100 % |", kwh(e.imported_wh));
    let _ = writeln!(
        md,
        "\nExported: {} kWh, of which {} sold to neighbours (the rest banked as energy credits).\n",
        kwh(e.exported_wh),
        optional_percent(ratio(e.local_wh as f64, e.exported_wh as f64))
    );

    let p = &figures.prices;
    let _ = writeln!(md, "## Clearing prices\n");
    match (p.min, p.max, p.mean, p.volume_weighted) {
        (Some(min), Some(max), Some(mean), Some(weighted)) => {
            let _ = writeln!(
                md,
                "{} of {} intervals traded. Per kWh: min {}, mean {}, max {}, volume-weighted \
                 mean {} (retail {}, feed-in {}, network fee {}).\n",
                p.traded,
                run.intervals.len(),
                usd_per_kwh(min),
                usd_per_kwh(mean),
                usd_per_kwh(max),
                usd_per_kwh(weighted),
                usd_per_kwh(run.tariffs.retail_per_kwh),
                usd_per_kwh(run.tariffs.feed_in_per_kwh),
                usd_per_kwh(run.tariffs.network_fee_per_kwh),
            );
        }
        _ => {
            let _ = writeln!(md, "No interval traded.\n");
        }
    }

    let b = &figures.bills;
    let _ = writeln!(md, "## Bills\n");
    let _ = writeln!(
        md,
        "With cogrid: what the home paid in the market (network fee included) plus its \
         grid-supplied import at retail, less what it earned in the market and its banked \
         energy credits valued at feed-in. Utility only: all import at retail less all export \
         at feed-in.\n"
    );
    let _ = writeln!(
        md,
        "| kind | homes | cogrid total | utility-only total | average reduction |\n\
         |---|---:|---:|---:|---:|"
    );
    for (kind, group) in &b.by_kind {
        let _ = writeln!(
            md,
            "| {kind} | {} | {} | {} | {} |",
            group.homes,
            usd(group.cogrid),
            usd(group.utility),
            optional_percent(group.average_reduction())
        );
    }
    let _ = writeln!(
        md,
        "| **all** | {} | {} | {} | {} |\n",
        run.homes.len(),
        usd(b.total_cogrid),
        usd(b.total_utility),
        optional_percent(b.average_reduction())
    );
    let _ = writeln!(
        md,
        "Average bill reduction: **{}** (mean over the {} homes whose utility-only bill is \
         positive; aggregate over all homes: {}).\n",
        optional_percent(b.average_reduction()),
        b.averaged,
        optional_percent(b.aggregate_reduction())
    );
    let _ = writeln!(md, "{}\n", comparison(outcome, &figures));
    let _ = writeln!(
        md,
        "<details><summary>Every home's bill</summary>\n\n\
         | home | kind | import kWh | export kWh | cogrid | utility only | reduction |\n\
         |---:|---|---:|---:|---:|---:|---:|"
    );
    for home in &run.homes {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            home.index,
            home.kind,
            kwh(home.imported_wh),
            kwh(home.exported_wh),
            usd(home.cogrid_bill),
            usd(home.utility_bill),
            optional_percent(reduction(home.utility_bill, home.cogrid_bill))
        );
    }
    let _ = writeln!(md, "\n</details>\n");

    let _ = writeln!(md, "## Carbon\n");
    let settled: u64 = run.homes.iter().map(|home| home.carbon_grams).sum();
    let minted = settled + run.carbon_released_grams;
    let _ = writeln!(
        md,
        "Carbon credits minted: {} g CO2e ({:.1} kg), for exported energy at the oracle's grid \
         intensity: {} g as intervals settled, {} g held while the intensity feed was stale and \
         released at the end of the run.\n",
        minted,
        minted as f64 / 1000.0,
        settled,
        run.carbon_released_grams,
    );

    let _ = writeln!(md, "## VPP\n");
    match &run.vpp {
        Some(vpp) => {
            let _ = writeln!(
                md,
                "Event {} on feeder {}, {} to {}: target {} W; {} batteries enrolled, \
                 committing {} W; delivered {} kWh over their baselines ({} of the commitment); \
                 paid {}, refunded {}.\n",
                vpp.event,
                vpp.feeder,
                utc_minutes(vpp.start),
                utc_minutes(vpp.end),
                vpp.target_w,
                vpp.enrolled,
                vpp.committed_w,
                kwh(vpp.delivered_wh),
                optional_percent(vpp_delivered_share(vpp)),
                usd(vpp.paid as i64),
                usd(vpp.refunded as i64),
            );
        }
        None => {
            let _ = writeln!(md, "No VPP event was called.\n");
        }
    }

    let o = &run.oracle;
    let _ = writeln!(md, "## Oracle\n");
    let _ = writeln!(
        md,
        "{} reporters polled {} feeds {} times (hourly, from local servers answering in each \
         source's format); the hub accepted {} rounds with {} observations each on average; {} \
         of the polls had a failure; {} transactions, {} gas.\n",
        o.reporters,
        o.feeds,
        o.polls,
        o.rounds,
        optional_float(observations_per_round(o), 2),
        o.failed_polls,
        o.transactions,
        o.gas_used,
    );
    if o.carbon_mismatches.is_empty() {
        let _ = writeln!(
            md,
            "Every one of the {} carbon intensity rounds relayed the day's intensity.\n",
            o.carbon_rounds
        );
    } else {
        let _ = writeln!(
            md,
            "Carbon intensity rounds unlike the day's intensity: {}.\n",
            o.carbon_mismatches.join("; ")
        );
    }

    let g = &figures.gas;
    let _ = writeln!(md, "## Gas and throughput\n");
    let _ = writeln!(md, "| | count | gas | gas each |\n|---|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| reading | {} | {} | {} |",
        run.gas.readings,
        run.gas.readings_gas,
        optional(g.per_reading)
    );
    let _ = writeln!(
        md,
        "| settlement | {} | {} | {} |",
        run.gas.settlements,
        run.gas.settlement_gas,
        optional(g.per_settlement)
    );
    let _ = writeln!(
        md,
        "| fill (settlement gas over its fills) | {} | {} | {} |\n",
        run.gas.fills,
        run.gas.settlement_gas,
        optional(g.per_fill)
    );
    let _ = writeln!(
        md,
        "Fills settled per second: {} ({} fills over {:.3} s of the keeper's clearing and \
         settlement wall time).\n",
        optional_float(figures.fills_per_second, 0),
        run.gas.fills,
        (run.timings.clearing + run.timings.settlement).as_secs_f64()
    );

    let c = &figures.cost;
    let m = FEE_MODEL;
    let _ = writeln!(md, "## Cost per home per month\n");
    let _ = writeln!(
        md,
        "**{} ETH = {} per home per month** (the run's reading and settlement transactions, \
         scaled from {} h to {} days, over {} homes).\n",
        eth(c.per_home_per_month_wei),
        usd_float(c.per_home_per_month_usd),
        run.hours,
        DAYS_PER_MONTH,
        run.homes_count,
    );
    let _ = writeln!(md, "Model: {FEE_FORMULA}.\n");
    let _ = writeln!(
        md,
        "Constants (assumed): L2 base fee {} gwei, priority fee 0; L1 base fee {} gwei; L1 blob \
         base fee {} gwei; baseFeeScalar {}; blobBaseFeeScalar {} (of the order of OP \
         Mainnet's); {} envelope bytes per transaction; ETH = {} USD.\n",
        gwei(m.l2_base_fee_wei),
        gwei(m.l1_base_fee_wei),
        gwei(m.l1_blob_base_fee_wei),
        m.base_fee_scalar,
        m.blob_base_fee_scalar,
        m.tx_envelope_bytes,
        m.eth_usd
    );
    let _ = writeln!(
        md,
        "This run: L2 execution {} ETH + L1 data {} ETH = {} ETH.\n",
        eth(c.l2_execution_wei),
        eth(c.l1_data_wei),
        eth(c.total_wei())
    );

    let t = &run.timings;
    let _ = writeln!(md, "## Time\n");
    let _ = writeln!(md, "| phase | s |\n|---|---:|");
    for (name, duration) in [
        ("setup (anvil, deployment, registration)", t.setup),
        ("signing readings", t.signing),
        ("posting readings", t.posting),
        ("clearing", t.clearing),
        ("settlement", t.settlement),
        ("other (oracle, VPP)", t.other),
        ("unaccounted", unaccounted(t)),
        ("**wall**", t.wall),
    ] {
        let _ = writeln!(md, "| {name} | {:.3} |", duration.as_secs_f64());
    }

    let _ = writeln!(
        md,
        "\n## Conservation checks (from chain state and events)\n"
    );
    let _ = writeln!(md, "| check | result | compared |\n|---|---|---|");
    for check in checks {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            check.name,
            if check.passed { "PASS" } else { "**FAIL**" },
            check.detail.replace('|', "\\|")
        );
    }

    let _ = writeln!(md, "\n## Assumptions\n");
    for assumption in assumptions(outcome) {
        let _ = writeln!(md, "- {assumption}");
    }
    let _ = writeln!(md, "\n## Data\n");
    for line in attribution(outcome) {
        let _ = writeln!(md, "- {line}");
    }
    md
}

/// The report as JSON; the schema is in the module's documentation.
pub fn json(outcome: &Outcome, checks: &[Check]) -> Value {
    let figures = Figures::of(outcome);
    let e = &figures.energy;
    let p = &figures.prices;
    let b = &figures.bills;
    let g = &figures.gas;
    let c = &figures.cost;
    let m = FEE_MODEL;
    let t = &outcome.timings;
    let settled_carbon: u64 = outcome.homes.iter().map(|home| home.carbon_grams).sum();
    let carbon = settled_carbon + outcome.carbon_released_grams;
    let o = &outcome.oracle;
    let homes: Vec<Value> = outcome
        .homes
        .iter()
        .map(|home| {
            json!({
                "index": home.index,
                "kind": home.kind,
                "meter": home.meter,
                "owner": home.owner,
                "imported_wh": home.imported_wh,
                "exported_wh": home.exported_wh,
                "cogrid_bill": home.cogrid_bill,
                "utility_bill": home.utility_bill,
                "saving": home.utility_bill - home.cogrid_bill,
                "reduction_percent": reduction(home.utility_bill, home.cogrid_bill),
                "carbon_grams": home.carbon_grams,
                "vpp_paid": home.vpp_paid,
            })
        })
        .collect();
    let per_kwh_usd = |price: Option<u64>| price.map(|price| price as f64 / 1e6);
    json!({
        "schema": SCHEMA,
        "run": {
            "homes": outcome.homes_count,
            "hours": outcome.hours,
            "interval_seconds": outcome.interval_seconds,
            "intervals": outcome.intervals.len(),
            "seed": outcome.seed,
            "day": outcome.day,
            "chain_id": outcome.deployment.chain_id,
            "tariffs": outcome.tariffs,
            "mix": b.by_kind.iter().map(|(kind, group)| (kind.clone(), json!(group.homes)))
                .collect::<serde_json::Map<_, _>>(),
            "deployment": outcome.deployment,
        },
        "energy": {
            "imported_wh": e.imported_wh,
            "exported_wh": e.exported_wh,
            "local_wh": e.local_wh,
            "credits_wh": e.credits_wh,
            "grid_wh": e.grid_wh,
            "local_share_percent": e.share(e.local_wh),
            "credits_share_percent": e.share(e.credits_wh),
            "grid_share_percent": e.share(e.grid_wh),
            "exported_sold_percent": ratio(e.local_wh as f64, e.exported_wh as f64),
            "local_kwh": e.local_wh as f64 / 1000.0,
            "grid_kwh": e.grid_wh as f64 / 1000.0,
        },
        "prices": {
            "intervals_traded": p.traded,
            "min_per_kwh": p.min,
            "mean_per_kwh": p.mean,
            "max_per_kwh": p.max,
            "volume_weighted_mean_per_kwh": p.volume_weighted,
            "min_usd_per_kwh": per_kwh_usd(p.min),
            "mean_usd_per_kwh": per_kwh_usd(p.mean),
            "max_usd_per_kwh": per_kwh_usd(p.max),
            "volume_weighted_mean_usd_per_kwh": per_kwh_usd(p.volume_weighted),
        },
        "bills": {
            "homes": homes,
            "total_cogrid": b.total_cogrid,
            "total_utility": b.total_utility,
            "average_reduction_percent": b.average_reduction(),
            "homes_averaged": b.averaged,
            "aggregate_reduction_percent": b.aggregate_reduction(),
            "seed_stated_reduction_percent": SEED_STATED_REDUCTION_PERCENT,
            "comparison": comparison(outcome, &figures),
        },
        "carbon": {
            "minted_grams": carbon,
            "minted_kg": carbon as f64 / 1000.0,
            "settled_grams": settled_carbon,
            "released_grams": outcome.carbon_released_grams,
        },
        "oracle": {
            "reporters": o.reporters,
            "feeds": o.feeds,
            "polls": o.polls,
            "failed_polls": o.failed_polls,
            "rounds": o.rounds,
            "observations": o.observations,
            "observations_per_round": observations_per_round(o),
            "transactions": o.transactions,
            "gas_used": o.gas_used,
            "carbon_rounds": o.carbon_rounds,
            "carbon_mismatches": o.carbon_mismatches,
        },
        "vpp": outcome.vpp.as_ref().map(|vpp| json!({
            "event": vpp.event,
            "feeder": vpp.feeder,
            "start": vpp.start,
            "end": vpp.end,
            "target_w": vpp.target_w,
            "enrolled": vpp.enrolled,
            "committed_w": vpp.committed_w,
            "delivered_wh": vpp.delivered_wh,
            "paid": vpp.paid,
            "refunded": vpp.refunded,
            "delivered_percent_of_commitment": vpp_delivered_share(vpp),
        })),
        "gas": {
            "readings": outcome.gas.readings,
            "readings_gas": outcome.gas.readings_gas,
            "per_reading": g.per_reading,
            "settlements": outcome.gas.settlements,
            "settlement_gas": outcome.gas.settlement_gas,
            "per_settlement": g.per_settlement,
            "fills": outcome.gas.fills,
            "per_fill": g.per_fill,
        },
        "throughput": {
            "fills": outcome.gas.fills,
            "keeper_ms": millis(t.clearing + t.settlement),
            "fills_per_second": figures.fills_per_second,
        },
        "cost": {
            "model": "OP Stack Ecotone fee: L2 execution at the L2 base fee plus the L1 data fee",
            "formula": FEE_FORMULA,
            "l2_base_fee_wei": m.l2_base_fee_wei,
            "l1_base_fee_wei": m.l1_base_fee_wei,
            "l1_blob_base_fee_wei": m.l1_blob_base_fee_wei,
            "base_fee_scalar": m.base_fee_scalar,
            "blob_base_fee_scalar": m.blob_base_fee_scalar,
            "tx_envelope_bytes": m.tx_envelope_bytes,
            "eth_usd": m.eth_usd,
            "l2_execution_wei": c.l2_execution_wei.to_string(),
            "l1_data_wei": c.l1_data_wei.to_string(),
            "total_wei": c.total_wei().to_string(),
            "months_per_run": c.months_per_run,
            "per_home_per_month_wei": c.per_home_per_month_wei.to_string(),
            "per_home_per_month_eth": c.per_home_per_month_wei as f64 / 1e18,
            "per_home_per_month_usd": c.per_home_per_month_usd,
        },
        "timings": {
            "setup_ms": millis(t.setup),
            "signing_ms": millis(t.signing),
            "posting_ms": millis(t.posting),
            "clearing_ms": millis(t.clearing),
            "settlement_ms": millis(t.settlement),
            "other_ms": millis(t.other),
            "unaccounted_ms": millis(unaccounted(t)),
            "wall_ms": millis(t.wall),
        },
        "assumptions": assumptions(outcome),
        "checks": checks,
        "checks_passed": all_passed(checks),
        "attribution": attribution(outcome),
    })
}

/// Whether there were checks and every one passed: no checks prove nothing.
fn all_passed(checks: &[Check]) -> bool {
    !checks.is_empty() && checks.iter().all(|check| check.passed)
}

/// The driver's assumptions, then the report's own.
fn assumptions(outcome: &Outcome) -> Vec<String> {
    let mut all = outcome.assumptions.clone();
    all.push(format!(
        "Tariffs: retail {}, feed-in {}, network fee {} (per kWh bought in the market).",
        usd_per_kwh(outcome.tariffs.retail_per_kwh),
        usd_per_kwh(outcome.tariffs.feed_in_per_kwh),
        usd_per_kwh(outcome.tariffs.network_fee_per_kwh)
    ));
    all.push(
        "A home's bill reduction is (utility-only bill - cogrid bill) / utility-only bill; it is \
         undefined for a home whose utility-only bill is zero or negative (it earns more from \
         feed-in than it pays), which the average leaves out."
            .into(),
    );
    all.push(format!(
        "Cost per home per month: the run's reading and settlement transactions at the fee \
         model below, times {DAYS_PER_MONTH} days over the hours run, over the homes; oracle \
         rounds, registration and the VPP event are not counted. {FEE_FORMULA}."
    ));
    all
}

fn attribution(outcome: &Outcome) -> Vec<String> {
    let mut lines = vec![AUSGRID_ATTRIBUTION.to_owned()];
    lines.extend(
        outcome
            .day_sources
            .iter()
            .map(|source| format!("Day `{}`: {source}", outcome.day)),
    );
    lines
}

/// The brief's 34 % set beside ours, with the conditions that produced ours.
fn comparison(outcome: &Outcome, figures: &Figures) -> String {
    let mix = figures
        .bills
        .by_kind
        .iter()
        .map(|(kind, group)| format!("{} {kind}", group.homes))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "The seed's {SEED_STATED_REDUCTION_PERCENT:.0} % is the bill reduction the project's \
         brief (issue 6, from the seed) states; neither it nor DESIGN.md says what produced it. \
         Ours: {} average ({} aggregate) for {} homes ({mix}) over {} h of the bundled day `{}` \
         (seed {}), retail {}, feed-in {}, network fee {}.",
        optional_percent(figures.bills.average_reduction()),
        optional_percent(figures.bills.aggregate_reduction()),
        outcome.homes_count,
        outcome.hours,
        outcome.day,
        outcome.seed,
        usd_per_kwh(outcome.tariffs.retail_per_kwh),
        usd_per_kwh(outcome.tariffs.feed_in_per_kwh),
        usd_per_kwh(outcome.tariffs.network_fee_per_kwh),
    )
}

/// Everything the two renderings compute from the outcome.
struct Figures {
    energy: Energy,
    prices: Prices,
    bills: Bills,
    gas: GasEach,
    cost: Cost,
    fills_per_second: Option<f64>,
}

impl Figures {
    fn of(outcome: &Outcome) -> Self {
        let keeper = (outcome.timings.clearing + outcome.timings.settlement).as_secs_f64();
        Self {
            energy: Energy::of(outcome),
            prices: Prices::of(outcome),
            bills: Bills::of(outcome),
            gas: GasEach {
                per_reading: divide(outcome.gas.readings_gas, outcome.gas.readings),
                per_settlement: divide(outcome.gas.settlement_gas, outcome.gas.settlements),
                per_fill: divide(outcome.gas.settlement_gas, outcome.gas.fills),
            },
            cost: Cost::of(outcome, &FEE_MODEL),
            fills_per_second: (keeper > 0.0).then(|| outcome.gas.fills as f64 / keeper),
        }
    }
}

struct Energy {
    imported_wh: u64,
    exported_wh: u64,
    local_wh: u64,
    credits_wh: u64,
    grid_wh: u64,
}

impl Energy {
    fn of(outcome: &Outcome) -> Self {
        let sum = |field: fn(&crate::outcome::IntervalOutcome) -> u64| -> u64 {
            outcome.intervals.iter().map(field).sum()
        };
        let imported_wh = sum(|i| i.imported_wh);
        let local_wh = sum(|i| i.traded_wh);
        let grid_wh = sum(|i| i.grid_import_wh);
        Self {
            imported_wh,
            exported_wh: sum(|i| i.exported_wh),
            local_wh,
            // Import is bought, covered from credits, or grid supplied: the rest is the credits.
            credits_wh: imported_wh.saturating_sub(local_wh + grid_wh),
            grid_wh,
        }
    }

    /// `wh` as a percentage of the import.
    fn share(&self, wh: u64) -> Option<f64> {
        ratio(wh as f64, self.imported_wh as f64)
    }
}

struct Prices {
    traded: usize,
    min: Option<u64>,
    max: Option<u64>,
    mean: Option<u64>,
    volume_weighted: Option<u64>,
}

impl Prices {
    fn of(outcome: &Outcome) -> Self {
        let traded: Vec<(u64, u64)> = outcome
            .intervals
            .iter()
            .filter(|i| i.traded_wh > 0)
            .filter_map(|i| i.clearing_price.map(|price| (price, i.traded_wh)))
            .collect();
        let count = traded.len() as u128;
        let sum: u128 = traded.iter().map(|(price, _)| u128::from(*price)).sum();
        let volume: u128 = traded.iter().map(|(_, wh)| u128::from(*wh)).sum();
        let value: u128 = traded
            .iter()
            .map(|(price, wh)| u128::from(*price) * u128::from(*wh))
            .sum();
        Self {
            traded: traded.len(),
            min: traded.iter().map(|(price, _)| *price).min(),
            max: traded.iter().map(|(price, _)| *price).max(),
            mean: (count > 0).then(|| (sum / count) as u64),
            volume_weighted: (volume > 0).then(|| (value / volume) as u64),
        }
    }
}

#[derive(Default)]
struct BillGroup {
    homes: usize,
    cogrid: i64,
    utility: i64,
    reductions: Vec<f64>,
}

impl BillGroup {
    fn average_reduction(&self) -> Option<f64> {
        (!self.reductions.is_empty())
            .then(|| self.reductions.iter().sum::<f64>() / self.reductions.len() as f64)
    }
}

struct Bills {
    by_kind: BTreeMap<String, BillGroup>,
    total_cogrid: i64,
    total_utility: i64,
    all: BillGroup,
    averaged: usize,
}

impl Bills {
    fn of(outcome: &Outcome) -> Self {
        let mut by_kind: BTreeMap<String, BillGroup> = BTreeMap::new();
        let mut all = BillGroup::default();
        for home in &outcome.homes {
            for group in [by_kind.entry(home.kind.clone()).or_default(), &mut all] {
                group.homes += 1;
                group.cogrid += home.cogrid_bill;
                group.utility += home.utility_bill;
                group
                    .reductions
                    .extend(reduction(home.utility_bill, home.cogrid_bill));
            }
        }
        Self {
            by_kind,
            total_cogrid: all.cogrid,
            total_utility: all.utility,
            averaged: all.reductions.len(),
            all,
        }
    }

    fn average_reduction(&self) -> Option<f64> {
        self.all.average_reduction()
    }

    fn aggregate_reduction(&self) -> Option<f64> {
        reduction(self.total_utility, self.total_cogrid)
    }
}

struct GasEach {
    per_reading: Option<u64>,
    per_settlement: Option<u64>,
    per_fill: Option<u64>,
}

/// What the run's transactions cost at [`FEE_MODEL`], in wei, and per home per month.
struct Cost {
    l2_execution_wei: u128,
    l1_data_wei: u128,
    months_per_run: f64,
    per_home_per_month_wei: u128,
    per_home_per_month_usd: f64,
}

impl Cost {
    fn of(outcome: &Outcome, model: &FeeModel) -> Self {
        let gas = outcome.gas.readings_gas + outcome.gas.settlement_gas;
        let l2_execution_wei = u128::from(gas) * u128::from(model.l2_base_fee_wei);
        let l1_data_wei = l1_data_fee(&outcome.gas.readings_calldata, model)
            + l1_data_fee(&outcome.gas.settlement_calldata, model);
        let total = l2_execution_wei + l1_data_wei;
        let months_per_run = outcome.hours as f64 / (24 * DAYS_PER_MONTH) as f64;
        let per_home_per_month_wei = if outcome.homes_count == 0 || outcome.hours == 0 {
            0
        } else {
            // Scale the run's total to a month's hours in integers, dividing last.
            total * u128::from(24 * DAYS_PER_MONTH)
                / (u128::from(outcome.hours) * outcome.homes_count as u128)
        };
        Self {
            l2_execution_wei,
            l1_data_wei,
            months_per_run,
            per_home_per_month_wei,
            per_home_per_month_usd: per_home_per_month_wei as f64 / 1e18 * model.eth_usd as f64,
        }
    }

    fn total_wei(&self) -> u128 {
        self.l2_execution_wei + self.l1_data_wei
    }
}

/// Ecotone's L1 data fee of the transactions `calldata` counts, each with its envelope.
fn l1_data_fee(calldata: &crate::outcome::CalldataSize, model: &FeeModel) -> u128 {
    let zero = u128::from(calldata.zero_bytes);
    let non_zero = u128::from(calldata.bytes - calldata.zero_bytes)
        + u128::from(calldata.txs) * u128::from(model.tx_envelope_bytes);
    let weighted = 16 * u128::from(model.base_fee_scalar) * u128::from(model.l1_base_fee_wei)
        + u128::from(model.blob_base_fee_scalar) * u128::from(model.l1_blob_base_fee_wei);
    // The compressed size is (4 zero + 16 non-zero) / 16 bytes; divide once, at the end.
    (4 * zero + 16 * non_zero) * weighted / 16 / 1_000_000
}

fn vpp_delivered_share(vpp: &crate::outcome::VppOutcome) -> Option<f64> {
    let committed_wh =
        f64::from(vpp.committed_w) * vpp.end.saturating_sub(vpp.start) as f64 / 3600.0;
    ratio(vpp.delivered_wh as f64, committed_wh)
}

/// The wall time the named phases do not account for.
fn unaccounted(t: &crate::outcome::Timings) -> Duration {
    t.wall
        .saturating_sub(t.setup + t.signing + t.posting + t.clearing + t.settlement + t.other)
}

/// The bill reduction in percent; `None` when the utility-only bill is not positive.
fn reduction(utility: i64, cogrid: i64) -> Option<f64> {
    (utility > 0).then(|| (utility - cogrid) as f64 / utility as f64 * 100.0)
}

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole * 100.0)
}

fn divide(total: u64, count: u64) -> Option<u64> {
    (count > 0).then(|| total / count)
}

/// Observations per accepted round; `None` when no round was accepted.
fn observations_per_round(oracle: &OracleOutcome) -> Option<f64> {
    (oracle.rounds > 0).then(|| oracle.observations as f64 / oracle.rounds as f64)
}

/// A unix time as `2020-05-22 18:00 UTC`.
fn utc_minutes(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|unix| chrono::DateTime::from_timestamp(unix, 0))
        .map_or_else(
            || format!("{unix} (unix s)"),
            |time| time.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

fn kwh(wh: u64) -> String {
    format!("{:.1}", wh as f64 / 1000.0)
}

/// Base units as dollars and cents, rounded half away from zero.
fn usd(base_units: i64) -> String {
    let cents = (base_units.unsigned_abs() + 5_000) / 10_000;
    let sign = if base_units < 0 && cents > 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", cents / 100, cents % 100)
}

fn usd_float(dollars: f64) -> String {
    if dollars >= 0.01 {
        format!("${dollars:.2}")
    } else {
        format!("${dollars:.6}")
    }
}

/// A price in base units per kWh as dollars per kWh.
fn usd_per_kwh(price: u64) -> String {
    format!("${:.4}/kWh", price as f64 / 1e6)
}

fn eth(wei: u128) -> String {
    format!("{:.9}", wei as f64 / 1e18)
}

fn gwei(wei: u64) -> String {
    let gwei = wei as f64 / 1e9;
    format!("{gwei}")
}

fn optional_percent(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".into(), |value| format!("{value:.1} %"))
}

fn optional(value: Option<u64>) -> String {
    value.map_or_else(|| "n/a".into(), |value| value.to_string())
}

fn optional_float(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "n/a".into(), |value| format!("{value:.decimals$}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use alloy::primitives::Address;
    use cogrid_chain::Deployment;

    use super::*;
    use crate::outcome::{
        CalldataSize, GasFigures, HomeOutcome, IntervalOutcome, OracleOutcome, Tariffs, Timings,
        VppOutcome,
    };

    /// A small outcome with known figures: four intervals, two of them traded.
    pub(crate) fn outcome() -> Outcome {
        let interval = |t: u64, price: Option<u64>, traded_wh: u64, grid: u64| IntervalOutcome {
            t,
            clearing_price: price,
            traded_wh,
            grid_import_wh: grid,
            exported_wh: traded_wh + 100,
            imported_wh: traded_wh + grid + 50,
            spot_price_per_mwh: 90_000_000,
            carbon_intensity: 400,
            fills: if traded_wh > 0 { 2 } else { 0 },
        };
        let home = |index: usize, kind: &str, cogrid: i64, utility: i64| HomeOutcome {
            index,
            kind: kind.into(),
            meter: Address::repeat_byte(index as u8 + 1),
            owner: Address::repeat_byte(index as u8 + 0x11),
            imported_wh: 1_000,
            exported_wh: 500,
            cogrid_bill: cogrid,
            utility_bill: utility,
            carbon_grams: 200,
            vpp_paid: 0,
        };
        Outcome {
            homes_count: 3,
            hours: 1,
            interval_seconds: 900,
            seed: 7,
            day: "sunny-spring".into(),
            tariffs: Tariffs::default(),
            assumptions: vec!["PV performance ratio 0.80.".into()],
            intervals: vec![
                interval(0, None, 0, 1_000),
                interval(1, Some(100_000), 1_000, 500),
                interval(2, Some(200_000), 3_000, 0),
                interval(3, None, 0, 2_000),
            ],
            homes: vec![
                home(0, "pv", 600_000, 1_000_000),
                home(1, "consumer", 900_000, 1_200_000),
                home(2, "pv", -100_000, -50_000),
            ],
            vpp: Some(VppOutcome {
                event: 1,
                feeder: 1,
                start: 3_600,
                end: 7_200,
                target_w: 10_000,
                enrolled: 2,
                committed_w: 8_000,
                delivered_wh: 6_000,
                paid: 1_200_000,
                refunded: 800_000,
            }),
            oracle: OracleOutcome {
                reporters: 3,
                feeds: 4,
                polls: 8,
                failed_polls: 1,
                rounds: 8,
                observations: 23,
                transactions: 8,
                gas_used: 600_000,
                carbon_rounds: 2,
                carbon_mismatches: Vec::new(),
            },
            carbon_released_grams: 50,
            gas: GasFigures {
                readings_gas: 300_000,
                readings: 12,
                settlement_gas: 200_000,
                settlements: 2,
                fills: 4,
                readings_calldata: CalldataSize {
                    txs: 4,
                    bytes: 3_000,
                    zero_bytes: 1_000,
                },
                settlement_calldata: CalldataSize {
                    txs: 2,
                    bytes: 400,
                    zero_bytes: 100,
                },
            },
            timings: Timings {
                setup: Duration::from_millis(1_000),
                signing: Duration::from_millis(100),
                posting: Duration::from_millis(200),
                clearing: Duration::from_millis(50),
                settlement: Duration::from_millis(450),
                other: Duration::from_millis(150),
                wall: Duration::from_millis(2_500),
            },
            deployment: Deployment {
                chain_id: 31337,
                market: Address::repeat_byte(0xa1),
                energy_credit: Address::repeat_byte(0xa2),
                carbon_credit: Address::repeat_byte(0xa3),
                stablecoin: Address::repeat_byte(0xa4),
                oracle_hub: Address::repeat_byte(0xa5),
                oracle_feeds: [0xb1, 0xb2, 0xb3, 0xb4].map(Address::repeat_byte),
                energy_amm: Address::repeat_byte(0xa6),
                vpp_dispatch: Address::repeat_byte(0xa7),
                deployed_at_block: 1,
            },
            day_sources: vec!["irradiance derived from the Ausgrid PV series.".into()],
        }
    }

    fn checks() -> Vec<Check> {
        vec![
            Check {
                name: "stablecoin".into(),
                passed: true,
                detail: "held 5 == vaults 5".into(),
            },
            Check {
                name: "carbon".into(),
                passed: false,
                detail: "minted 3 != 4".into(),
            },
        ]
    }

    #[test]
    fn the_json_report_has_the_documented_figures() {
        let report = json(&outcome(), &checks());
        assert_eq!(report["schema"], SCHEMA);
        assert_eq!(report["energy"]["local_wh"], 4_000);
        assert_eq!(report["energy"]["grid_wh"], 3_500);
        assert_eq!(report["energy"]["imported_wh"], 7_700);
        assert_eq!(report["energy"]["credits_wh"], 200);
        assert_eq!(report["prices"]["intervals_traded"], 2);
        assert_eq!(report["prices"]["min_per_kwh"], 100_000);
        assert_eq!(report["prices"]["max_per_kwh"], 200_000);
        assert_eq!(report["prices"]["mean_per_kwh"], 150_000);
        // (100,000 x 1,000 + 200,000 x 3,000) / 4,000.
        assert_eq!(report["prices"]["volume_weighted_mean_per_kwh"], 175_000);
        // Homes 0 and 1 save 40 % and 25 %; home 2's utility bill is negative: left out.
        assert_eq!(report["bills"]["average_reduction_percent"], 32.5);
        assert_eq!(report["bills"]["homes_averaged"], 2);
        assert_eq!(
            report["bills"]["homes"][2]["reduction_percent"],
            Value::Null
        );
        assert_eq!(report["bills"]["homes"][0]["saving"], 400_000);
        assert_eq!(report["bills"]["seed_stated_reduction_percent"], 34.0);
        assert_eq!(report["run"]["mix"]["pv"], 2);
        assert_eq!(report["carbon"]["minted_grams"], 650);
        assert_eq!(report["carbon"]["settled_grams"], 600);
        assert_eq!(report["carbon"]["released_grams"], 50);
        assert_eq!(report["oracle"]["observations_per_round"], 2.875);
        assert_eq!(report["oracle"]["failed_polls"], 1);
        assert_eq!(report["vpp"]["start"], 3_600);
        assert_eq!(report["gas"]["per_reading"], 25_000);
        assert_eq!(report["gas"]["per_settlement"], 100_000);
        assert_eq!(report["gas"]["per_fill"], 50_000);
        assert_eq!(report["throughput"]["fills_per_second"], 8.0);
        assert_eq!(report["timings"]["unaccounted_ms"], 550);
        assert_eq!(report["vpp"]["delivered_percent_of_commitment"], 75.0);
        assert_eq!(report["checks_passed"], false);
        assert_eq!(report["checks"][1]["detail"], "minted 3 != 4");
        assert!(
            report["attribution"][0]
                .as_str()
                .unwrap()
                .contains("Pierre Haessig")
        );
    }

    #[test]
    fn the_cost_follows_the_stated_formula() {
        let report = json(&outcome(), &[]);
        let m = FEE_MODEL;
        // 500,000 gas at 0.005 gwei.
        assert_eq!(report["cost"]["l2_execution_wei"], "2500000000000");
        let weighted = 16 * 5_227 * 1_000_000_000u128 + 1_014_213 * 1_000_000_000;
        let zero = 1_000 + 100;
        let non_zero = 2_000 + 300 + 6 * u128::from(m.tx_envelope_bytes);
        let l1 = (4 * zero + 16 * non_zero) * weighted / 16 / 1_000_000;
        assert_eq!(report["cost"]["l1_data_wei"], l1.to_string());
        // One hour for three homes: a 720-hour month is 720 runs, over three homes.
        let per_home = (2_500_000_000_000 + l1) * 720 / 3;
        assert_eq!(
            report["cost"]["per_home_per_month_wei"],
            per_home.to_string()
        );
    }

    #[test]
    fn the_markdown_report_states_every_section() {
        let md = markdown(&outcome(), &checks());
        for needle in [
            "## Energy",
            "## Clearing prices",
            "volume-weighted mean $0.1750/kWh",
            "Average bill reduction: **32.5 %**",
            "The seed's 34 %",
            "3 homes (1 consumer, 2 pv)",
            "## Carbon",
            "650 g CO2e (0.7 kg)",
            "600 g as intervals settled, 50 g held while the intensity feed was stale",
            "## VPP",
            "Event 1 on feeder 1, 1970-01-01 01:00 UTC to 1970-01-01 02:00 UTC",
            "paid $1.20, refunded $0.80",
            "## Oracle",
            "3 reporters polled 4 feeds 8 times",
            "8 rounds with 2.88 observations each on average; 1 of the polls had a failure",
            "Every one of the 2 carbon intensity rounds relayed the day's intensity.",
            "Fills settled per second: 8",
            "## Cost per home per month",
            "L2 base fee 0.005 gwei",
            "| unaccounted | 0.550 |",
            "| carbon | **FAIL** | minted 3 != 4 |",
            "Pierre Haessig",
            "Day `sunny-spring`: irradiance derived",
            "PV performance ratio 0.80.",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
        assert!(md.contains("Conservation checks: **FAIL** (1 of 2 passed)"));
    }

    #[test]
    fn no_checks_is_no_pass() {
        let report = json(&outcome(), &[]);
        assert_eq!(report["checks_passed"], false);
        assert!(
            markdown(&outcome(), &[]).contains("Conservation checks: **FAIL** (0 of 0 passed)")
        );
    }

    #[test]
    fn money_rounds_to_the_cent() {
        assert_eq!(usd(1_234_567), "$1.23");
        assert_eq!(usd(-5_000), "-$0.01");
        assert_eq!(usd(-4_999), "$0.00");
        assert_eq!(usd(0), "$0.00");
    }
}
