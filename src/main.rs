use std::process::ExitCode;

// mimalloc: a request allocates and frees many small buffers (JSON values, rows) on two
// busy threads; glibc's malloc cost twice as much CPU per request in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before anything opens a database: SQLite's allocator can only be set before first use.
    rollcall::store::sqlite_alloc::use_mimalloc();
    rollcall::cli::main()
}
