//! The `gridsense-demo` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    demo::cli::main()
}
