//! The native command-line trainer. The CLI needs a terminal and a file system, so it exists only
//! off wasm32; the browser drives the same trainer through `samlab::web`.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
