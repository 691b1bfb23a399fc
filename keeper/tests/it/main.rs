//! The keeper's integration tests: one binary.
//!
//! Store tests run twice, on a SQLite file and on PostgreSQL. The PostgreSQL half needs
//! `COGRID_TEST_POSTGRES_URL` (`make test` installs and starts a server and sets it) and fails
//! without it, so a missing server never passes for a green run.

mod backends;
mod daemon;
mod island;
mod market;
mod routing;
mod store;
mod street;
mod vpp;
