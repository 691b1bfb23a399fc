//! `vpp-gateway`: see the library docs.

fn main() -> eyre::Result<()> {
    cogrid_gateway::cli::main()
}
