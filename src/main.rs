// mimalloc: parsing a large KB is allocation-heavy, and the system allocator was a tenth of it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(runbook::cli::main());
}
