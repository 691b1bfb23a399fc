//! The owner's policy and the enrolment decision: a pure function over plain data, so every rule
//! can be unit- and property-tested without a chain or a battery.

/// Stablecoin base units in one US dollar (the stablecoin has 6 decimals).
pub const BASE_UNITS_PER_USD: u64 = 1_000_000;

/// What the battery's owner accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The lowest price per kWh delivered worth lending the battery for, stablecoin base units.
    pub min_price_per_kwh: u64,
    /// The most watts the owner lends to one event.
    pub max_w: u32,
    /// Percent of the battery's capacity that must stay stored (backup for an outage, the
    /// evening's own use); 0..=100.
    pub reserve_percent: u8,
}

impl Policy {
    /// The energy that must stay in a battery of `capacity_wh`, rounded up so that the reserve
    /// is never less than the owner asked for.
    pub fn reserve_wh(&self, capacity_wh: u64) -> u64 {
        let reserve = u128::from(capacity_wh) * u128::from(self.reserve_percent.min(100));
        reserve.div_ceil(100) as u64
    }
}

/// A dispatch event as far as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    /// Stablecoin base units paid per kWh delivered.
    pub price_per_kwh: u64,
    /// The watts the grid operator asks for.
    pub target_w: u32,
    /// The watts other enrolments committed so far.
    pub committed_w: u32,
    /// Start of the window (unix s), included.
    pub start: u64,
    /// End of the window (unix s), excluded.
    pub end: u64,
}

/// An enrolment the gateway already holds and has not finished delivering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commitment {
    /// Start of its window (unix s).
    pub start: u64,
    /// End of its window (unix s).
    pub end: u64,
    /// The watts committed.
    pub watts: u32,
}

impl Commitment {
    /// The energy still to deliver from `now` on, rounded up: the battery must keep it.
    pub fn energy_left_wh(&self, now: u64) -> u64 {
        let seconds = self.end.saturating_sub(self.start.max(now));
        (u128::from(self.watts) * u128::from(seconds)).div_ceil(3_600) as u64
    }
}

/// What the battery and the meter can do right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// The battery's usable capacity, Wh.
    pub capacity_wh: u64,
    /// What it stores now, Wh (what it can deliver: see [`crate::battery::BatteryStatus`]).
    pub stored_wh: u64,
    /// The most it can discharge, W.
    pub max_discharge_w: u32,
    /// The meter's registered connection capacity (`meterInfo.capacityW`): the contract refuses a
    /// commitment above it.
    pub meter_capacity_w: u32,
}

/// Which limit set the committed watts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// The owner's `max_w`.
    Policy,
    /// The battery's maximum discharge power.
    Battery,
    /// The meter's registered connection capacity.
    MeterCapacity,
    /// What the event still asks for.
    RemainingTarget,
    /// What the energy above the reserve (less what earlier enrolments still need) can sustain
    /// over the whole window.
    Energy,
}

/// Why the gateway does not enrol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The event pays less than the owner's minimum.
    PriceBelowMinimum {
        /// The event's price per kWh.
        price: u64,
        /// The policy's minimum.
        minimum: u64,
    },
    /// Other enrolments already cover the whole target.
    Full,
    /// The window is empty (the contract never creates one; guarded so the energy limit cannot
    /// divide by zero).
    EmptyWindow,
    /// The window overlaps an enrolment the battery is already committed to: one battery cannot
    /// follow two setpoints at once.
    Overlaps {
        /// The overlapping commitment.
        with: Commitment,
    },
    /// A limit leaves nothing to commit (a zero `max_w`, an empty battery, ...).
    NothingToCommit {
        /// The limit that is zero.
        limited_by: Limit,
    },
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Enrol with `watts`.
    Enrol {
        /// The watts to commit.
        watts: u32,
        /// The tightest limit (the first in [`Limit`]'s order when several are equal).
        limited_by: Limit,
    },
    /// Do not enrol.
    Skip(Skip),
}

/// Decides whether to enrol in `offer` and with how many watts: the least of the owner's maximum,
/// the battery's discharge power, the meter's capacity, the event's remaining target, and what
/// the energy above the reserve can sustain over the whole window once the `commitments` still
/// ahead are served; nothing when the price is below the owner's minimum or that least is 0.
///
/// The energy limit is `(stored - reserve - promised) Wh x 3600 / duration s`, rounded down, so
/// a battery that follows the commitment for the whole window never drops into its reserve.
pub fn decide(
    policy: &Policy,
    offer: &Offer,
    capability: &Capability,
    commitments: &[Commitment],
    now: u64,
) -> Decision {
    if offer.price_per_kwh < policy.min_price_per_kwh {
        return Decision::Skip(Skip::PriceBelowMinimum {
            price: offer.price_per_kwh,
            minimum: policy.min_price_per_kwh,
        });
    }
    let remaining_w = offer.target_w.saturating_sub(offer.committed_w);
    if remaining_w == 0 {
        return Decision::Skip(Skip::Full);
    }
    let Some(duration) = offer.end.checked_sub(offer.start).filter(|&d| d > 0) else {
        return Decision::Skip(Skip::EmptyWindow);
    };
    if let Some(with) = commitments
        .iter()
        .find(|c| c.start < offer.end && offer.start < c.end)
    {
        return Decision::Skip(Skip::Overlaps { with: *with });
    }
    let promised_wh: u64 = commitments
        .iter()
        .map(|c| c.energy_left_wh(now))
        .fold(0, u64::saturating_add);
    let spare_wh = capability
        .stored_wh
        .saturating_sub(policy.reserve_wh(capability.capacity_wh))
        .saturating_sub(promised_wh);
    let energy_w =
        (u128::from(spare_wh) * 3_600 / u128::from(duration)).min(u128::from(u32::MAX)) as u32;
    let limits = [
        (policy.max_w, Limit::Policy),
        (capability.max_discharge_w, Limit::Battery),
        (capability.meter_capacity_w, Limit::MeterCapacity),
        (remaining_w, Limit::RemainingTarget),
        (energy_w, Limit::Energy),
    ];
    // `min_by_key` keeps the first of equal minima, so ties name the earlier limit.
    let (watts, limited_by) = limits
        .into_iter()
        .min_by_key(|&(watts, _)| watts)
        .expect("five limits");
    if watts == 0 {
        Decision::Skip(Skip::NothingToCommit { limited_by })
    } else {
        Decision::Enrol { watts, limited_by }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const POLICY: Policy = Policy {
        min_price_per_kwh: 200_000,
        max_w: 4_000,
        reserve_percent: 20,
    };
    const HOUR: Offer = Offer {
        price_per_kwh: 300_000,
        target_w: 20_000,
        committed_w: 0,
        start: 9_000,
        end: 12_600,
    };
    /// A 13.5 kWh home battery (a Powerwall-sized one) at 12 kWh, 5 kW inverter, 10 kW meter.
    const FULL: Capability = Capability {
        capacity_wh: 13_500,
        stored_wh: 12_000,
        max_discharge_w: 5_000,
        meter_capacity_w: 10_000,
    };

    #[test]
    fn a_well_charged_battery_commits_the_policy_maximum() {
        assert_eq!(
            decide(&POLICY, &HOUR, &FULL, &[], 0),
            Decision::Enrol {
                watts: 4_000,
                limited_by: Limit::Policy
            }
        );
    }

    #[test]
    fn a_low_battery_commits_what_the_energy_above_the_reserve_sustains() {
        // Reserve 20 % of 13,500 = 2,700 Wh; 4,500 - 2,700 = 1,800 Wh over one hour: 1,800 W.
        let low = Capability {
            stored_wh: 4_500,
            ..FULL
        };
        assert_eq!(
            decide(&POLICY, &HOUR, &low, &[], 0),
            Decision::Enrol {
                watts: 1_800,
                limited_by: Limit::Energy
            }
        );
        // The same energy over half an hour sustains twice the power.
        let half_hour = Offer {
            end: HOUR.start + 1_800,
            ..HOUR
        };
        assert_eq!(
            decide(&POLICY, &half_hour, &low, &[], 0),
            Decision::Enrol {
                watts: 3_600,
                limited_by: Limit::Energy
            }
        );
    }

    #[test]
    fn a_battery_at_its_reserve_does_not_enrol() {
        let at_reserve = Capability {
            stored_wh: 2_700,
            ..FULL
        };
        assert_eq!(
            decide(&POLICY, &HOUR, &at_reserve, &[], 0),
            Decision::Skip(Skip::NothingToCommit {
                limited_by: Limit::Energy
            })
        );
    }

    #[test]
    fn a_price_below_the_minimum_is_refused_and_the_minimum_itself_accepted() {
        let cheap = Offer {
            price_per_kwh: 199_999,
            ..HOUR
        };
        assert_eq!(
            decide(&POLICY, &cheap, &FULL, &[], 0),
            Decision::Skip(Skip::PriceBelowMinimum {
                price: 199_999,
                minimum: 200_000
            })
        );
        let at_minimum = Offer {
            price_per_kwh: 200_000,
            ..HOUR
        };
        assert!(matches!(
            decide(&POLICY, &at_minimum, &FULL, &[], 0),
            Decision::Enrol { .. }
        ));
    }

    #[test]
    fn the_remaining_target_and_the_meter_capacity_cap_the_commitment() {
        let nearly_full = Offer {
            committed_w: 19_000,
            ..HOUR
        };
        assert_eq!(
            decide(&POLICY, &nearly_full, &FULL, &[], 0),
            Decision::Enrol {
                watts: 1_000,
                limited_by: Limit::RemainingTarget
            }
        );
        let full = Offer {
            committed_w: 20_000,
            ..HOUR
        };
        assert_eq!(
            decide(&POLICY, &full, &FULL, &[], 0),
            Decision::Skip(Skip::Full)
        );
        let small_meter = Capability {
            meter_capacity_w: 3_000,
            ..FULL
        };
        assert_eq!(
            decide(&POLICY, &HOUR, &small_meter, &[], 0),
            Decision::Enrol {
                watts: 3_000,
                limited_by: Limit::MeterCapacity
            }
        );
    }

    #[test]
    fn earlier_commitments_keep_their_energy_and_overlaps_are_refused() {
        let earlier = Commitment {
            start: 3_600,
            end: 7_200,
            watts: 4_000,
        };
        // 12,000 - 2,700 reserve - 4,000 promised = 5,300 Wh over an hour, above the 4 kW policy:
        // the policy still binds. Half-way through the earlier window only 2,000 Wh are promised.
        assert_eq!(
            decide(&POLICY, &HOUR, &FULL, &[earlier], 0),
            Decision::Enrol {
                watts: 4_000,
                limited_by: Limit::Policy
            }
        );
        let low = Capability {
            stored_wh: 8_000,
            ..FULL
        };
        // 8,000 - 2,700 - 4,000 = 1,300 Wh.
        assert_eq!(
            decide(&POLICY, &HOUR, &low, &[earlier], 0),
            Decision::Enrol {
                watts: 1_300,
                limited_by: Limit::Energy
            }
        );
        // Mid-window, 2,000 Wh are still promised: 8,000 - 2,700 - 2,000 = 3,300 Wh.
        assert_eq!(
            decide(&POLICY, &HOUR, &low, &[earlier], 5_400),
            Decision::Enrol {
                watts: 3_300,
                limited_by: Limit::Energy
            }
        );
        let overlapping = Commitment {
            start: 12_000,
            end: 13_000,
            watts: 1,
        };
        assert_eq!(
            decide(&POLICY, &HOUR, &FULL, &[overlapping], 0),
            Decision::Skip(Skip::Overlaps { with: overlapping })
        );
        // Windows that only touch do not overlap: `end` is excluded.
        let adjacent = Commitment {
            start: HOUR.end,
            end: HOUR.end + 900,
            watts: 1,
        };
        assert!(matches!(
            decide(&POLICY, &HOUR, &FULL, &[adjacent], 0),
            Decision::Enrol { .. }
        ));
    }

    #[test]
    fn the_reserve_rounds_up() {
        let policy = Policy {
            reserve_percent: 10,
            ..POLICY
        };
        assert_eq!(policy.reserve_wh(1_005), 101);
        assert_eq!(policy.reserve_wh(1_000), 100);
    }

    fn policies() -> impl Strategy<Value = Policy> {
        (0..1_000_000u64, 0..20_000u32, 0..=100u8).prop_map(
            |(min_price_per_kwh, max_w, reserve_percent)| Policy {
                min_price_per_kwh,
                max_w,
                reserve_percent,
            },
        )
    }

    fn offers() -> impl Strategy<Value = Offer> {
        (
            1..1_000_000u64,
            1..50_000u32,
            0..50_000u32,
            1..40u64,
            1..16u64,
        )
            .prop_map(|(price_per_kwh, target_w, committed, start, intervals)| {
                let start = start * 900;
                Offer {
                    price_per_kwh,
                    target_w,
                    committed_w: committed.min(target_w),
                    start,
                    end: start + intervals * 900,
                }
            })
    }

    fn capabilities() -> impl Strategy<Value = Capability> {
        (1..100_000u64, 0..=100u64, 0..20_000u32, 1..30_000u32).prop_map(
            |(capacity_wh, soc, max_discharge_w, meter_capacity_w)| Capability {
                capacity_wh,
                stored_wh: capacity_wh * soc / 100,
                max_discharge_w,
                meter_capacity_w,
            },
        )
    }

    proptest! {
        #[test]
        fn a_commitment_respects_every_limit_and_equals_the_tightest(
            policy in policies(),
            offer in offers(),
            capability in capabilities(),
        ) {
            match decide(&policy, &offer, &capability, &[], offer.start) {
                Decision::Enrol { watts, limited_by } => {
                    prop_assert!(offer.price_per_kwh >= policy.min_price_per_kwh);
                    prop_assert!(watts > 0);
                    prop_assert!(watts <= policy.max_w);
                    prop_assert!(watts <= capability.max_discharge_w);
                    prop_assert!(watts <= capability.meter_capacity_w);
                    prop_assert!(watts <= offer.target_w - offer.committed_w);
                    // Following the commitment for the whole window never touches the reserve.
                    let duration = offer.end - offer.start;
                    let spare = capability.stored_wh - policy.reserve_wh(capability.capacity_wh);
                    prop_assert!(u128::from(watts) * u128::from(duration) <= u128::from(spare) * 3_600);
                    let bound = match limited_by {
                        Limit::Policy => policy.max_w,
                        Limit::Battery => capability.max_discharge_w,
                        Limit::MeterCapacity => capability.meter_capacity_w,
                        Limit::RemainingTarget => offer.target_w - offer.committed_w,
                        // One more watt would pass the energy above the reserve.
                        Limit::Energy => {
                            prop_assert!(
                                u128::from(watts + 1) * u128::from(duration) > u128::from(spare) * 3_600
                            );
                            watts
                        }
                    };
                    prop_assert_eq!(watts, bound);
                }
                Decision::Skip(Skip::PriceBelowMinimum { .. }) => {
                    prop_assert!(offer.price_per_kwh < policy.min_price_per_kwh);
                }
                Decision::Skip(Skip::Full) => prop_assert_eq!(offer.committed_w, offer.target_w),
                Decision::Skip(Skip::NothingToCommit { .. }) => {
                    let spare = capability.stored_wh.saturating_sub(policy.reserve_wh(capability.capacity_wh));
                    let duration = offer.end - offer.start;
                    prop_assert!(
                        policy.max_w == 0
                            || capability.max_discharge_w == 0
                            || u128::from(spare) * 3_600 < u128::from(duration)
                    );
                }
                Decision::Skip(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }

        #[test]
        fn more_stored_energy_never_commits_less(
            policy in policies(),
            offer in offers(),
            capability in capabilities(),
            extra in 0..50_000u64,
        ) {
            let watts = |capability: &Capability| match decide(&policy, &offer, capability, &[], 0) {
                Decision::Enrol { watts, .. } => watts,
                Decision::Skip(_) => 0,
            };
            let more = Capability {
                capacity_wh: capability.capacity_wh + extra,
                stored_wh: capability.stored_wh + extra,
                ..capability
            };
            // The reserve grows with the capacity by at most `extra` x reserve %, less than `extra`.
            prop_assert!(watts(&more) >= watts(&capability));
        }
    }
}
