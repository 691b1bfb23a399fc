//! The EnergyMarket's packed words: a settlement fill (`settle`'s `uint256[] fills`) and the
//! two-word record of each meter a batch settled (`MetersSettled(bytes32[] records)`), laid out
//! as `contracts/src/libraries/Fills.sol` and `SettlementRecords.sol` document.

use alloy::primitives::{Address, B256, U256};

/// One meter's trade in a settlement batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    /// The meter whose attested volume trades.
    pub meter: Address,
    /// True to buy for the meter's import, false to sell its export.
    pub buy: bool,
    /// Energy traded, Wh.
    pub wh: u32,
}

impl Fill {
    /// The fill as `settle` takes it: meter in bits 0-159, Wh in 160-191, bit 192 set to buy.
    pub fn pack(&self) -> U256 {
        let meter = U256::from_be_slice(self.meter.as_slice());
        meter | (U256::from(self.wh) << 160) | (U256::from(u8::from(self.buy)) << 192)
    }
}

/// What a batch did to one meter's pending volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementRecord {
    /// The meter.
    pub meter: Address,
    /// The last interval the settled volumes cover.
    pub interval: u64,
    /// Carbon credits the export earned, g CO2e.
    pub carbon_grams: u64,
    /// Wh sold or bought in the market (see `bought`).
    pub traded_wh: u32,
    /// Unsold export credited as energy credits, Wh.
    pub credited_wh: u32,
    /// Unbought import paid from the owner's energy credits, Wh.
    pub covered_wh: u32,
    /// Import neither bought nor covered: supplied by the grid (the retailer bills it), Wh.
    pub grid_supplied_wh: u32,
    /// Stablecoin base units earned net of the keeper fee (sold) or paid incl. the network fee
    /// (bought).
    pub amount: u128,
    /// Whether `traded_wh` was bought (else sold, or nothing traded).
    pub bought: bool,
    /// Whether the meter's feeder was islanded in `interval`: then the grid supplied none of
    /// `grid_supplied_wh`, which is the energy the island could not serve.
    pub unserved: bool,
}

impl SettlementRecord {
    /// Wh sold in the market.
    pub fn sold_wh(&self) -> u32 {
        if self.bought { 0 } else { self.traded_wh }
    }

    /// Wh bought in the market.
    pub fn bought_wh(&self) -> u32 {
        if self.bought { self.traded_wh } else { 0 }
    }

    /// Decodes a `MetersSettled` event's records (two words per meter); a trailing odd word,
    /// which the contract never emits, is ignored.
    pub fn decode_all(words: &[B256]) -> Vec<Self> {
        words
            .chunks_exact(2)
            .map(|pair| Self::decode(pair[0], pair[1]))
            .collect()
    }

    /// Decodes one record: word 0 = meter (bits 0-159) | interval (160-199) | carbon (200-255);
    /// word 1 = traded (0-31) | credited (32-63) | covered (64-95) | grid supplied (96-127) |
    /// amount (128-223) | flags (224-231, bit 0 = bought, bit 1 = unserved).
    pub fn decode(first: B256, second: B256) -> Self {
        let first = U256::from_be_bytes(first.0);
        let second = U256::from_be_bytes(second.0);
        let bits = |word: U256, offset: usize, width: usize| -> U256 {
            (word >> offset) & ((U256::from(1) << width) - U256::from(1))
        };
        let meter_bytes: [u8; 32] = bits(first, 0, 160).to_be_bytes();
        Self {
            meter: Address::from_slice(&meter_bytes[12..]),
            interval: bits(first, 160, 40).to(),
            carbon_grams: bits(first, 200, 56).to(),
            traded_wh: bits(second, 0, 32).to(),
            credited_wh: bits(second, 32, 32).to(),
            covered_wh: bits(second, 64, 32).to(),
            grid_supplied_wh: bits(second, 96, 32).to(),
            amount: bits(second, 128, 96).to(),
            bought: bits(second, 224, 1) == U256::from(1),
            unserved: bits(second, 225, 1) == U256::from(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_packs_as_the_contract_reads_it() {
        let fill = Fill {
            meter: Address::repeat_byte(0xab),
            buy: true,
            wh: 0x0102_0304,
        };
        let packed = fill.pack();
        assert_eq!(
            packed & ((U256::from(1) << 160) - U256::from(1)),
            U256::from_be_slice(&[0xab; 20])
        );
        assert_eq!(
            (packed >> 160) & U256::from(u32::MAX),
            U256::from(0x0102_0304u32)
        );
        assert_eq!(packed >> 192, U256::from(1));
        let sell = Fill { buy: false, ..fill };
        assert_eq!(sell.pack() >> 192, U256::ZERO);
    }

    #[test]
    fn a_record_decodes_every_field() {
        let meter = Address::repeat_byte(0x11);
        let first: U256 = U256::from_be_slice(meter.as_slice())
            | (U256::from(1_964_233u64) << 160)
            | (U256::from(123_456u64) << 200);
        let second: U256 = U256::from(700u32)
            | (U256::from(50u32) << 32)
            | (U256::from(20u32) << 64)
            | (U256::from(30u32) << 96)
            | (U256::from(98_000u64) << 128)
            | (U256::from(3u8) << 224);
        let record = SettlementRecord::decode(
            B256::from(first.to_be_bytes::<32>()),
            B256::from(second.to_be_bytes::<32>()),
        );
        assert_eq!(
            record,
            SettlementRecord {
                meter,
                interval: 1_964_233,
                carbon_grams: 123_456,
                traded_wh: 700,
                credited_wh: 50,
                covered_wh: 20,
                grid_supplied_wh: 30,
                amount: 98_000,
                bought: true,
                unserved: true,
            }
        );
        assert_eq!((record.sold_wh(), record.bought_wh()), (0, 700));
    }
}
