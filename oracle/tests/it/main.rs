//! The reporter's integration tests: one binary. Sources and peers are served from axum servers
//! on 127.0.0.1 ephemeral ports; nothing reaches the internet.

mod anvil;
mod exchange;
mod replay;
mod sources;
mod startup;
