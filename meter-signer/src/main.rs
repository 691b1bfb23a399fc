//! `meter-signer`: see the library docs.

fn main() -> eyre::Result<()> {
    cogrid_meter_signer::cli::main()
}
