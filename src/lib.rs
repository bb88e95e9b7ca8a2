//! samlab: sharpness-aware minimization you can watch and steer. A tensor and autograd core whose
//! every forward, backward, optimizer and SAM pass runs as WebGPU compute shaders, natively and in
//! the browser.
//!
//! Layers, bottom up: `gpu` (device, pool, pipelines, plans, readback) → `ops` + `autograd` (the
//! tape that builds static plans) → `nn` (layers, flat parameters) → `optim` and `sam` (flat-vector
//! updates and the perturb/restore loop) → `data` → `train` (the run the CLI and page drive).

pub mod autograd;
pub mod data;
pub mod gpu;
pub mod host_math;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod rng;
pub mod sam;
pub mod sharpness;
pub mod surface;
pub mod train;
#[cfg(target_arch = "wasm32")]
pub mod web;
