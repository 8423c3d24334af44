//! The `gridsense` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    gateway::cli::main()
}
