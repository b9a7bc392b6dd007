//! `gateway`: the Jing-Jin-Ji 12345 interoperability gateway.
#![forbid(unsafe_code)]

/// jemalloc rather than the system allocator: 10-15 % less CPU per
/// hand-off (glibc's malloc, free and consolidation were ~15 % of the
/// gateway under load), with the same peak memory (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    gateway::cli::run()
}
