//! The agent stepped by hand against anvil: which events it enrols in and with how many watts,
//! and what it makes the battery do as the chain's clock moves through the windows.

use alloy::primitives::U256;
use cogrid_bindings::VppDispatch::{self, VppDispatchErrors};
use cogrid_chain::VppEventStatus;
use cogrid_gateway::{
    agent::{EnrolResult, Outcome, Skipped, StepReport, enroll},
    battery::BatteryMode,
    policy::{Limit, Skip},
};

use crate::grid::{FEEDER, Grid, OTHER_FEEDER, confirm};

/// `IVppDispatch.EnrolmentStatus.Enrolled`.
const ENROLLED: u8 = 1;

fn outcome(report: &StepReport, id: U256) -> Option<&Outcome> {
    report
        .decisions
        .iter()
        .find_map(|(decided, outcome)| (*decided == id).then_some(outcome))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrols_by_policy_and_discharges_through_the_window() {
    let grid = Grid::start().await;
    let full = grid.home(2, FEEDER).await;
    let low = grid.home(3, FEEDER).await;
    let start = grid.next_boundary().await;
    let end = start + 3_600;
    // A feeder has one event at a time: its events follow each other hour by hour.
    // 0.30 $/kWh, above the 0.20 minimum; 20 kW asked, more than both batteries give.
    let paying = grid.create_event(FEEDER, start, 1, 20_000, 300_000).await;
    let elsewhere = grid
        .create_event(OTHER_FEEDER, start, 1, 20_000, 300_000)
        .await;
    let cheap = grid.create_event(FEEDER, end, 1, 20_000, 100_000).await;
    let cancelled = grid
        .create_event(FEEDER, end + 3_600, 1, 20_000, 300_000)
        .await;
    confirm(grid.operator.cancel(cancelled).send().await).await;
    let withdrawn_start = end + 3 * 3_600;
    let withdrawn = grid
        .create_event(FEEDER, withdrawn_start, 1, 20_000, 300_000)
        .await;

    // 12,000 Wh stored, 2,700 reserve: the 4 kW policy binds. 4,500 Wh stored: 1,800 Wh above
    // the reserve sustain 1,800 W for the hour.
    let mut agent_full = grid.agent(&full, 12_000).await;
    let mut agent_low = grid.agent(&low, 4_500).await;
    let report = agent_full.step().await.unwrap();
    assert_eq!(
        outcome(&report, paying),
        Some(&Outcome::Enrolled {
            watts: 4_000,
            limited_by: Limit::Policy
        })
    );
    assert_eq!(
        outcome(&report, cheap),
        Some(&Outcome::Skipped(Skipped::Declined(
            Skip::PriceBelowMinimum {
                price: 100_000,
                minimum: 200_000
            }
        )))
    );
    assert_eq!(
        outcome(&report, cancelled),
        Some(&Outcome::Skipped(Skipped::NotOpen {
            status: Some(VppEventStatus::Cancelled)
        }))
    );
    // The first enrolment keeps its 4,000 Wh: 12,000 - 2,700 - 4,000 still sustains 4 kW.
    assert_eq!(
        outcome(&report, withdrawn),
        Some(&Outcome::Enrolled {
            watts: 4_000,
            limited_by: Limit::Policy
        })
    );
    assert_eq!(outcome(&report, elsewhere), None, "another feeder's event");
    assert_eq!(report.mode, BatteryMode::Normal);
    let report = agent_low.step().await.unwrap();
    assert_eq!(
        outcome(&report, paying),
        Some(&Outcome::Enrolled {
            watts: 1_800,
            limited_by: Limit::Energy
        })
    );
    // All the low battery's energy above the reserve is promised to the first event.
    assert_eq!(
        outcome(&report, withdrawn),
        Some(&Outcome::Skipped(Skipped::Declined(
            Skip::NothingToCommit {
                limited_by: Limit::Energy
            }
        )))
    );

    assert_eq!(grid.enrolment(paying, full.meter).await, (ENROLLED, 4_000));
    assert_eq!(grid.enrolment(paying, low.meter).await, (ENROLLED, 1_800));
    assert_eq!(
        grid.enrolment(withdrawn, full.meter).await,
        (ENROLLED, 4_000)
    );
    assert_eq!(grid.enrolment(cheap, full.meter).await.0, 0);
    assert_eq!(grid.enrolment(elsewhere, full.meter).await.0, 0);
    assert_eq!(grid.enrolment(cancelled, full.meter).await.0, 0);
    let view = grid.operator.eventOf(paying).call().await.unwrap();
    assert_eq!(view.committedW, 5_800);
    // The operator withdraws the last event after the gateway enrolled in it.
    confirm(grid.operator.cancel(withdrawn).send().await).await;

    // Nothing new: the next step decides nothing and the battery stays in normal mode.
    let report = agent_full.step().await.unwrap();
    assert!(report.decisions.is_empty(), "{report:?}");
    assert_eq!(report.mode, BatteryMode::Normal);

    // Into the window: discharge at the committed watts, down to the reserve at most.
    grid.clock_to(start + 60).await;
    let report = agent_full.step().await.unwrap();
    let discharging = BatteryMode::Discharge {
        watts: 4_000,
        floor_wh: 2_700,
        until: end,
    };
    assert_eq!(report.mode, discharging);
    assert_eq!(agent_full.battery().mode(), discharging);
    assert_eq!(agent_full.battery().power_w(), 4_000.0);
    let commanded_full = report.now;
    let report = agent_low.step().await.unwrap();
    assert_eq!(
        report.mode,
        BatteryMode::Discharge {
            watts: 1_800,
            floor_wh: 2_700,
            until: end
        }
    );
    let commanded_low = report.now;

    // Half-way: the battery exported the committed power for the time since the command.
    grid.clock_to(start + 1_860).await;
    let report = agent_full.step().await.unwrap();
    let expected = 4_000.0 * (report.now - commanded_full) as f64 / 3_600.0;
    assert!(
        (agent_full.battery().exported_wh() - expected).abs() < 1e-6,
        "{} Wh exported, {expected} expected",
        agent_full.battery().exported_wh()
    );

    // After the end: back to normal, having exported exactly up to the end.
    grid.clock_to(end + 60).await;
    let report = agent_full.step().await.unwrap();
    assert_eq!(report.mode, BatteryMode::Normal);
    assert_eq!(agent_full.battery().mode(), BatteryMode::Normal);
    let exported_full = 4_000.0 * (end - commanded_full) as f64 / 3_600.0;
    assert!((agent_full.battery().exported_wh() - exported_full).abs() < 1e-6);
    assert!((agent_full.battery().stored_wh() - (12_000.0 - exported_full)).abs() < 1e-6);
    assert_eq!(
        agent_full.commitments().into_keys().collect::<Vec<_>>(),
        [withdrawn]
    );
    let report = agent_low.step().await.unwrap();
    assert_eq!(report.mode, BatteryMode::Normal);
    let exported = 1_800.0 * (end - commanded_low) as f64 / 3_600.0;
    assert!((agent_low.battery().exported_wh() - exported).abs() < 1e-6);
    assert!(agent_low.battery().stored_wh() >= 2_700.0);

    // The withdrawn event's window: the cancel voided the enrolment, so no discharge.
    grid.clock_to(withdrawn_start + 60).await;
    let report = agent_full.step().await.unwrap();
    assert_eq!(report.mode, BatteryMode::Normal);
    assert!(agent_full.commitments().is_empty());
    assert!((agent_full.battery().exported_wh() - exported_full).abs() < 1e-6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skips_full_and_started_events_and_rediscovers_its_enrolments() {
    let grid = Grid::start().await;
    let home = grid.home(2, FEEDER).await;
    let rival = grid.home(3, FEEDER).await;
    let soon = grid.next_boundary().await;
    let later = soon + 4 * 3_600;
    // Created in the order of their windows: a feeder's events never overlap.
    let started = grid.create_event(FEEDER, soon, 1, 20_000, 300_000).await;
    let filled = grid.create_event(FEEDER, later, 1, 3_000, 300_000).await;
    let open = grid
        .create_event(FEEDER, later + 3_600, 1, 9_500, 300_000)
        .await;
    let rival_dispatch = VppDispatch::new(grid.deployment.vpp_dispatch, grid.as_owner(&rival));
    confirm(
        rival_dispatch
            .enroll(filled, rival.meter, 3_000)
            .send()
            .await,
    )
    .await;
    // A rival takes most of the target: the gateway commits what is left.
    confirm(rival_dispatch.enroll(open, rival.meter, 8_000).send().await).await;

    let mut agent = grid.agent(&home, 12_000).await;
    grid.clock_to(soon + 1).await;
    let report = agent.step().await.unwrap();
    assert_eq!(
        outcome(&report, filled),
        Some(&Outcome::Skipped(Skipped::Declined(Skip::Full)))
    );
    assert_eq!(
        outcome(&report, started),
        Some(&Outcome::Skipped(Skipped::Started))
    );
    assert_eq!(
        outcome(&report, open),
        Some(&Outcome::Enrolled {
            watts: 1_500,
            limited_by: Limit::RemainingTarget
        })
    );

    // A restarted gateway reads the events again and follows the enrolment it made.
    drop(agent);
    let mut restarted = grid.agent(&home, 12_000).await;
    let report = restarted.step().await.unwrap();
    assert_eq!(
        outcome(&report, open),
        Some(&Outcome::AlreadyEnrolled { watts: 1_500 })
    );
    assert_eq!(restarted.commitments()[&open].watts, 1_500);
    grid.clock_to(later + 3_600 + 1).await;
    assert_eq!(
        restarted.step().await.unwrap().mode,
        BatteryMode::Discharge {
            watts: 1_500,
            floor_wh: 2_700,
            until: later + 7_200
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_enrolment_is_decoded() {
    let grid = Grid::start().await;
    let home = grid.home(2, FEEDER).await;
    let start = grid.next_boundary().await;
    let small = grid.create_event(FEEDER, start, 1, 1_000, 300_000).await;
    let elsewhere = grid
        .create_event(OTHER_FEEDER, start, 1, 1_000, 300_000)
        .await;
    let dispatch = VppDispatch::new(grid.deployment.vpp_dispatch, grid.as_owner(&home));

    match enroll(&dispatch, small, home.meter, 2_000).await.unwrap() {
        EnrolResult::Refused(VppDispatchErrors::VppTargetExceeded(refusal)) => {
            assert_eq!((refusal.committedW, refusal.remainingW), (2_000, 1_000));
        }
        other => panic!("expected VppTargetExceeded, got {other:?}"),
    }
    match enroll(&dispatch, elsewhere, home.meter, 500).await.unwrap() {
        EnrolResult::Refused(VppDispatchErrors::VppWrongFeeder(refusal)) => {
            assert_eq!(
                (refusal.meterFeeder, refusal.eventFeeder),
                (FEEDER, OTHER_FEEDER)
            );
        }
        other => panic!("expected VppWrongFeeder, got {other:?}"),
    }
    assert!(matches!(
        enroll(&dispatch, small, home.meter, 1_000).await.unwrap(),
        EnrolResult::Enrolled { .. }
    ));
    assert!(matches!(
        enroll(&dispatch, small, home.meter, 1_000).await.unwrap(),
        EnrolResult::Refused(VppDispatchErrors::VppAlreadyEnrolled(_))
    ));
}
