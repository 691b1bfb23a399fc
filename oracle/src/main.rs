//! `oracle`: see the library docs.

fn main() -> eyre::Result<()> {
    cogrid_oracle::cli::main()
}
