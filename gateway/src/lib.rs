//! The cogrid home gateway's VPP agent. It watches VppDispatch for events on its battery meter's
//! feeder (the market's `meterInfo` names the feeder), enrols the meter with as many watts as its
//! owner's policy and the battery allow ([`policy::decide`]), sending `enroll` from the owner's
//! wallet, and drives the battery ([`battery::Battery`]) during the windows it enrolled in, on the
//! chain's clock. [`battery::SimulatedBattery`] stands in for an inverter in the demo and tests.

pub mod agent;
pub mod battery;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod error;
pub mod listener;
pub mod policy;
