//! Per feed: the median of the sources' values with outliers rejected, and Chainlink's rule for
//! when a value is worth a round. Pure functions over plain data.
//!
//! **Outliers.** The median `m` of every source that answered is taken first; a value farther from
//! `m` than `max(|m| * outlier_bps / 10_000, outlier_min)` is dropped, and the median of the rest
//! is the feed's value. The median alone already ignores one wild source out of three; the
//! rejection also keeps a wild source from counting towards `min_sources`, so a feed whose
//! sources disagree reports nothing rather than a value few sources back. Two sources that
//! disagree beyond the threshold are both dropped: with no majority there is no telling which is
//! wrong.
//!
//! **Reporting** (Chainlink's rule): a value is reported when the feed has no round yet, when it
//! moved at least `deviation_bps` away from the last on-chain answer (any change when that answer
//! is 0), or when `heartbeat` has passed since the last round's `updatedAt`.

/// How far from the median a source's value may lie before it is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutlierRule {
    /// Relative distance, in basis points of the median.
    pub bps: u32,
    /// Absolute distance (the feed's unit) that never counts as an outlier.
    pub min: u64,
}

impl OutlierRule {
    /// Whether `value` lies too far from `median`.
    pub fn is_outlier(self, value: i64, median: i64) -> bool {
        let distance = (i128::from(value) - i128::from(median)).unsigned_abs();
        let relative = i128::from(median).unsigned_abs() * u128::from(self.bps) / 10_000;
        distance > relative.max(u128::from(self.min))
    }
}

/// A feed's value from its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// The median of the values kept.
    pub value: i64,
    /// How many sources it rests on.
    pub sources: usize,
    /// The values dropped as outliers.
    pub outliers: Vec<i64>,
}

/// Why a feed has no value this round.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoValue {
    /// Too few sources answered.
    #[error("{answered} source(s) answered; the feed needs {required}")]
    TooFewSources {
        /// Sources that answered.
        answered: usize,
        /// The feed's `min_sources`.
        required: usize,
    },
    /// Enough answered, but too few agree once outliers are dropped.
    #[error(
        "{kept} source(s) agree after dropping outliers {outliers:?}; the feed needs {required}"
    )]
    TooFewAgree {
        /// Sources left.
        kept: usize,
        /// The feed's `min_sources`.
        required: usize,
        /// The values dropped.
        outliers: Vec<i64>,
    },
}

/// The median, as OracleHub takes it: for an even count the mean of the two middle values,
/// rounded toward zero. `None` for no values.
pub fn median(values: &[i64]) -> Option<i64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let count = sorted.len();
    match count {
        0 => None,
        _ if count % 2 == 1 => Some(sorted[count / 2]),
        _ => {
            // i128 division truncates toward zero; the mean of two i64 fits i64 again.
            let sum = i128::from(sorted[count / 2 - 1]) + i128::from(sorted[count / 2]);
            Some((sum / 2) as i64)
        }
    }
}

/// The feed's value from the values of the sources that answered.
pub fn aggregate(
    values: &[i64],
    rule: OutlierRule,
    min_sources: usize,
) -> Result<Aggregate, NoValue> {
    let Some(first) = median(values).filter(|_| values.len() >= min_sources) else {
        return Err(NoValue::TooFewSources {
            answered: values.len(),
            required: min_sources,
        });
    };
    let (outliers, kept): (Vec<i64>, Vec<i64>) = values
        .iter()
        .partition(|value| rule.is_outlier(**value, first));
    match median(&kept).filter(|_| kept.len() >= min_sources) {
        Some(value) => Ok(Aggregate {
            value,
            sources: kept.len(),
            outliers,
        }),
        None => Err(NoValue::TooFewAgree {
            kept: kept.len(),
            required: min_sources,
            outliers,
        }),
    }
}

/// The feed's latest round on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastRound {
    /// The round id (0: the feed has no round yet).
    pub round_id: u128,
    /// Its answer, saturated into i128.
    pub answer: i128,
    /// Unix time the round landed.
    pub updated_at: u64,
}

/// Why a value is worth a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The feed has no round yet.
    FirstRound,
    /// The value moved this many basis points (saturated) from the last answer.
    Deviation {
        /// Basis points of the last answer (`u32::MAX` when it was 0).
        bps: u32,
    },
    /// The last round is this many seconds old.
    Heartbeat {
        /// Seconds since the last round.
        age: u64,
    },
}

/// Chainlink's rule: whether `value`, observed at `now`, is worth a round after `last`.
pub fn should_report(
    value: i64,
    last: &LastRound,
    now: u64,
    deviation_bps: u32,
    heartbeat_secs: u64,
) -> Option<Trigger> {
    if last.round_id == 0 {
        return Some(Trigger::FirstRound);
    }
    let age = now.saturating_sub(last.updated_at);
    if age >= heartbeat_secs {
        return Some(Trigger::Heartbeat { age });
    }
    let moved = (i128::from(value) - last.answer).unsigned_abs();
    let base = last.answer.unsigned_abs();
    if base == 0 {
        return (moved > 0).then_some(Trigger::Deviation { bps: u32::MAX });
    }
    let bps = moved.saturating_mul(10_000) / base;
    (bps >= u128::from(deviation_bps)).then(|| Trigger::Deviation {
        bps: u32::try_from(bps).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TEN_PERCENT: OutlierRule = OutlierRule { bps: 1_000, min: 0 };

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5));
        assert_eq!(median(&[9, 1, 5]), Some(5));
        assert_eq!(median(&[1, 4]), Some(2), "2.5 rounds toward zero");
        assert_eq!(median(&[-1, -4]), Some(-2), "-2.5 rounds toward zero");
        assert_eq!(median(&[i64::MAX, i64::MAX]), Some(i64::MAX));
    }

    #[test]
    fn a_wild_source_is_dropped_and_not_counted() {
        let aggregate = aggregate(&[100, 102, 1_000], TEN_PERCENT, 2).unwrap();
        assert_eq!(aggregate.value, 101);
        assert_eq!(aggregate.sources, 2);
        assert_eq!(aggregate.outliers, [1_000]);
        assert_eq!(
            super::aggregate(&[100, 102, 1_000], TEN_PERCENT, 3),
            Err(NoValue::TooFewAgree {
                kept: 2,
                required: 3,
                outliers: vec![1_000]
            })
        );
    }

    #[test]
    fn two_sources_far_apart_give_no_value() {
        assert_eq!(
            aggregate(&[100, 200], TEN_PERCENT, 1),
            Err(NoValue::TooFewAgree {
                kept: 0,
                required: 1,
                outliers: vec![100, 200]
            })
        );
    }

    #[test]
    fn the_absolute_floor_keeps_values_near_zero() {
        let rule = OutlierRule {
            bps: 1_000,
            min: 50,
        };
        assert_eq!(aggregate(&[0, 12], rule, 2).unwrap().value, 6);
        assert!(aggregate(&[0, 12], TEN_PERCENT, 1).is_err());
    }

    #[test]
    fn too_few_sources_give_no_value() {
        assert_eq!(
            aggregate(&[100], TEN_PERCENT, 2),
            Err(NoValue::TooFewSources {
                answered: 1,
                required: 2
            })
        );
        assert!(aggregate(&[], TEN_PERCENT, 1).is_err());
    }

    fn last(answer: i128, updated_at: u64) -> LastRound {
        LastRound {
            round_id: 7,
            answer,
            updated_at,
        }
    }

    #[test]
    fn chainlink_rule() {
        let no_round = LastRound {
            round_id: 0,
            answer: 0,
            updated_at: 0,
        };
        assert_eq!(
            should_report(5, &no_round, 1_000, 100, 3_600),
            Some(Trigger::FirstRound)
        );
        // 1 % of 10_000 is 100.
        assert_eq!(
            should_report(10_099, &last(10_000, 1_000), 1_010, 100, 3_600),
            None
        );
        assert_eq!(
            should_report(9_900, &last(10_000, 1_000), 1_010, 100, 3_600),
            Some(Trigger::Deviation { bps: 100 })
        );
        assert_eq!(
            should_report(10_000, &last(10_000, 1_000), 4_600, 100, 3_600),
            Some(Trigger::Heartbeat { age: 3_600 })
        );
        assert_eq!(should_report(0, &last(0, 1_000), 1_010, 100, 3_600), None);
        assert_eq!(
            should_report(1, &last(0, 1_000), 1_010, 100, 3_600),
            Some(Trigger::Deviation { bps: u32::MAX })
        );
    }

    proptest! {
        #[test]
        fn the_median_lies_within_the_values_and_ignores_order(
            mut values in proptest::collection::vec(any::<i64>(), 1..20),
        ) {
            let m = median(&values).unwrap();
            prop_assert!(values.iter().min().unwrap() <= &m && &m <= values.iter().max().unwrap());
            values.reverse();
            prop_assert_eq!(median(&values), Some(m));
        }

        #[test]
        fn a_kept_value_is_never_an_outlier_of_the_first_median(
            values in proptest::collection::vec(-1_000_000i64..1_000_000, 1..12),
            bps in 1u32..5_000,
            min in 0u64..1_000,
            min_sources in 1usize..4,
        ) {
            let rule = OutlierRule { bps, min };
            let first = median(&values).unwrap();
            match aggregate(&values, rule, min_sources) {
                Ok(result) => {
                    prop_assert!(result.sources >= min_sources);
                    prop_assert_eq!(result.sources + result.outliers.len(), values.len());
                    prop_assert!(result.outliers.iter().all(|v| rule.is_outlier(*v, first)));
                    let kept: Vec<i64> = values.iter().copied().filter(|v| !rule.is_outlier(*v, first)).collect();
                    prop_assert_eq!(Some(result.value), median(&kept));
                }
                Err(NoValue::TooFewSources { answered, required }) => {
                    prop_assert!(answered < required);
                }
                Err(NoValue::TooFewAgree { kept, required, .. }) => prop_assert!(kept < required),
            }
        }

        #[test]
        fn a_moved_value_is_reported_iff_it_passes_the_threshold(
            answer in 1i64..1_000_000_000,
            value in 0i64..2_000_000_000,
            deviation_bps in 1u32..10_000,
        ) {
            let reported = should_report(value, &last(i128::from(answer), 100), 101, deviation_bps, 3_600).is_some();
            let moved = (i128::from(value) - i128::from(answer)).abs() * 10_000;
            prop_assert_eq!(reported, moved >= i128::from(answer) * i128::from(deviation_bps));
        }

        #[test]
        fn an_expired_heartbeat_is_always_reported(
            answer in any::<i64>(),
            updated_at in 0u64..1_000_000,
            heartbeat in 1u64..100_000,
            late in 0u64..100_000,
        ) {
            let now = updated_at + heartbeat + late;
            prop_assert!(should_report(answer, &last(i128::from(answer), updated_at), now, 100, heartbeat).is_some());
        }
    }
}
