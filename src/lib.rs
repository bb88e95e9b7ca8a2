//! samlab: sharpness-aware minimization you can watch and steer. A tensor and autograd core whose
//! every forward, backward, optimizer and SAM pass runs as WebGPU compute shaders, natively and in
//! the browser.

pub mod autograd;
pub mod gpu;
pub mod ops;
