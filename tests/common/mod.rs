//! Helpers shared by the native integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use samlab::gpu::Gpu;

/// A device on whatever adapter this machine has (lavapipe in CI). A test that cannot get one
/// fails: the suite never skips itself green.
pub fn gpu() -> Arc<Gpu> {
    std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    pollster::block_on(Gpu::new())
        .expect("a GPU adapter is required for these tests (install mesa-vulkan-drivers)")
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}
