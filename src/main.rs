fn main() -> std::process::ExitCode {
    optima::cli::main()
}
