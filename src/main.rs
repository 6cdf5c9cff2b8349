#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    nuru::cli::main()
}
