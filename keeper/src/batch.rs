//! Splitting an interval's fills into settlement batches.
//!
//! The contract settles a meter's volumes in full the first time one of its fills lands, so a
//! meter can appear in one batch only, and every batch must buy exactly the Wh it sells. When the
//! fills of an interval do not fit one transaction (the gas cap of EIP-7825, or the configured
//! batch size), [`split_balanced`] cuts them into batches of whole fills and balances each batch by
//! trimming its last fill on the heavier side. Trimming only lowers a fill's Wh, so every trimmed
//! fill is still within its meter's attested volume, its cap and its buyer's balance; the Wh
//! trimmed off settle as residuals (credits or grid supply). At most one fill per side and batch
//! boundary is trimmed.

use alloy::primitives::Address;

use crate::clearing::Side;

/// One meter's trade in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchFill {
    /// The meter.
    pub meter: Address,
    /// Whether it sells or buys.
    pub side: Side,
    /// Energy traded, Wh (never 0).
    pub wh: u64,
}

/// Cuts `fills` (balanced: as many Wh bought as sold; at most one fill per meter) into batches of
/// at most `max_fills` fills, each balanced, each sorted by meter as the contract requires.
/// Fills are taken in the given order (merit order keeps the best trades in the first batches).
/// `max_fills` below 2 is treated as 2: a batch needs a buyer and a seller.
pub fn split_balanced(fills: &[BatchFill], max_fills: usize) -> Vec<Vec<BatchFill>> {
    let max_fills = max_fills.max(2);
    if fills.len() <= max_fills {
        let mut batch = fills.to_vec();
        batch.sort_by_key(|fill| fill.meter);
        return if batch.is_empty() {
            vec![]
        } else {
            vec![batch]
        };
    }
    let mut sells = fills
        .iter()
        .filter(|fill| fill.side == Side::Sell)
        .peekable();
    let mut buys = fills
        .iter()
        .filter(|fill| fill.side == Side::Buy)
        .peekable();
    let mut batches = Vec::new();
    loop {
        let mut batch: Vec<BatchFill> = Vec::new();
        let (mut sold, mut bought) = (0u64, 0u64);
        while batch.len() < max_fills {
            // Feed the lighter side, so the batch stays as balanced as whole fills allow.
            let next = if sold <= bought {
                sells.next().or_else(|| buys.next())
            } else {
                buys.next().or_else(|| sells.next())
            };
            let Some(fill) = next else { break };
            match fill.side {
                Side::Sell => sold += fill.wh,
                Side::Buy => bought += fill.wh,
            }
            batch.push(*fill);
        }
        if batch.is_empty() {
            break;
        }
        trim_to_balance(&mut batch, sold, bought);
        if !batch.is_empty() {
            batch.sort_by_key(|fill| fill.meter);
            batches.push(batch);
        }
        if sells.peek().is_none() && buys.peek().is_none() {
            break;
        }
    }
    batches
}

/// Lowers the last fills of the heavier side until the batch buys what it sells, dropping a fill
/// trimmed to zero.
fn trim_to_balance(batch: &mut Vec<BatchFill>, sold: u64, bought: u64) {
    let (heavy, mut excess) = if sold > bought {
        (Side::Sell, sold - bought)
    } else {
        (Side::Buy, bought - sold)
    };
    for fill in batch.iter_mut().rev() {
        if excess == 0 {
            break;
        }
        if fill.side == heavy {
            let cut = fill.wh.min(excess);
            fill.wh -= cut;
            excess -= cut;
        }
    }
    batch.retain(|fill| fill.wh > 0);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fill(index: u8, side: Side, wh: u64) -> BatchFill {
        BatchFill {
            meter: Address::with_last_byte(index),
            side,
            wh,
        }
    }

    fn totals(batch: &[BatchFill]) -> (u64, u64) {
        batch
            .iter()
            .fold((0, 0), |(sold, bought), fill| match fill.side {
                Side::Sell => (sold + fill.wh, bought),
                Side::Buy => (sold, bought + fill.wh),
            })
    }

    #[test]
    fn a_batch_that_fits_is_kept_whole_and_sorted() {
        let fills = [
            fill(9, Side::Sell, 100),
            fill(1, Side::Buy, 60),
            fill(5, Side::Buy, 40),
        ];
        let batches = split_balanced(&fills, 500);
        assert_eq!(batches.len(), 1);
        let meters: Vec<u8> = batches[0].iter().map(|fill| fill.meter[19]).collect();
        assert_eq!(meters, [1, 5, 9]);
        assert_eq!(totals(&batches[0]), (100, 100));
    }

    #[test]
    fn a_split_trims_only_the_boundary_fill() {
        // 3 sellers of 100 Wh against 2 buyers of 150 Wh, 2 fills per batch at most.
        let fills = [
            fill(1, Side::Sell, 100),
            fill(2, Side::Sell, 100),
            fill(3, Side::Sell, 100),
            fill(4, Side::Buy, 150),
            fill(5, Side::Buy, 150),
        ];
        let batches = split_balanced(&fills, 2);
        for batch in &batches {
            let (sold, bought) = totals(batch);
            assert_eq!(sold, bought, "{batch:?}");
            assert!(batch.len() <= 2);
        }
        let traded: u64 = batches.iter().map(|batch| totals(batch).0).sum();
        // Batch 1: seller 1 (100) against buyer 4 trimmed to 100; batch 2: seller 2 against buyer
        // 5 trimmed to 100; batch 3: seller 3 alone is dropped (no buyer left).
        assert_eq!(traded, 200);
    }

    proptest! {
        #[test]
        fn batches_are_balanced_bounded_and_lose_little(
            sells in proptest::collection::vec(1u64..5_000, 1..60),
            buy_shares in proptest::collection::vec(1u64..100, 1..60),
            max_fills in 2usize..20,
        ) {
            // Buyers take the sellers' total in shares, so the interval is balanced.
            let total: u64 = sells.iter().sum();
            let share_sum: u64 = buy_shares.iter().sum();
            let mut buys: Vec<u64> = buy_shares.iter().map(|share| total * share / share_sum).collect();
            let assigned: u64 = buys.iter().sum();
            buys[0] += total - assigned;
            let mut fills = Vec::new();
            let mut index = 0u8;
            for wh in &sells {
                index = index.wrapping_add(1);
                fills.push(BatchFill { meter: Address::repeat_byte(index), side: Side::Sell, wh: *wh });
            }
            for wh in buys.iter().filter(|wh| **wh > 0) {
                index = index.wrapping_add(1);
                fills.push(BatchFill { meter: Address::repeat_byte(index), side: Side::Buy, wh: *wh });
            }
            let batches = split_balanced(&fills, max_fills);
            let mut traded = 0;
            for batch in &batches {
                let (sold, bought) = totals(batch);
                prop_assert_eq!(sold, bought);
                prop_assert!(batch.len() <= max_fills);
                prop_assert!(batch.windows(2).all(|pair| pair[0].meter < pair[1].meter));
                for trimmed in batch {
                    let original = fills.iter().find(|fill| fill.meter == trimmed.meter).unwrap();
                    prop_assert!(trimmed.wh <= original.wh && trimmed.side == original.side);
                }
                traded += sold;
            }
            // Every meter appears in one batch at most.
            let mut meters: Vec<Address> = batches.iter().flatten().map(|fill| fill.meter).collect();
            let count = meters.len();
            meters.sort();
            meters.dedup();
            prop_assert_eq!(meters.len(), count);
            // What is lost is at most two fills per batch boundary.
            let largest = fills.iter().map(|fill| fill.wh).max().unwrap_or(0);
            let boundaries = batches.len() as u64;
            prop_assert!(total - traded <= 2 * largest * boundaries.max(1), "lost {} of {}", total - traded, total);
        }
    }
}
