fn main() -> std::process::ExitCode {
    optima::allocator::return_large_blocks_to_the_os();
    optima::cli::main()
}
