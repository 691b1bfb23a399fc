//! Integration tests of `cogrid-dsmr` through its public API.

mod fixtures;
mod framer;
mod malformed;
mod parse;
mod props;
