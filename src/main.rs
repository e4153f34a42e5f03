fn main() -> std::process::ExitCode {
    breachd::cli::main()
}
