//! `cogrid`: see the library docs.

fn main() -> eyre::Result<()> {
    cogrid::cli::main()
}
