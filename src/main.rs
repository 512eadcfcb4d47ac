use std::process::ExitCode;

// mimalloc: a request allocates and frees many small buffers (JSON values, rows) on two
// busy threads; glibc's malloc cost twice as much CPU per request in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    rollcall::cli::main()
}
