//! The `gridsense` binary: everything lives in the library.

/// With `--features mimalloc`: mimalloc as the global allocator, measured
/// against glibc's with `gridsense-bench` (BENCHMARKS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gateway::cli::main()
}
