//! `keeper`: see the library docs.

fn main() -> eyre::Result<()> {
    cogrid_keeper::cli::main()
}
