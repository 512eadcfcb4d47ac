//! `rollcall bench`: seeds data and drives a server over real HTTP on loopback.

/// Benchmark options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Users to seed
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
}

/// Runs the benchmark.
pub async fn run(args: BenchArgs) -> Result<(), String> {
    Err(format!(
        "the benchmark is not written yet ({} users)",
        args.users
    ))
}
