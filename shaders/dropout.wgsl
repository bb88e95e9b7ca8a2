// Inverted dropout: y = x·mask/(1 − P), mask ~ Bernoulli(1 − P). The mask is not stored: it is a
// hash of (run seed, step, layer, element), recomputed by the backward. Every pass of one training
// step sees the same step number, so SAM's second pass drops the same units as the first (with
// ρ = 0, SAM then equals its base optimizer exactly; see docs/architecture.md).

override LEN: u32;
override P: f32;
override LAYER: u32;

struct Step {
    seed: u32,
    step: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;  // x forward, dy backward
@group(0) @binding(1) var<storage, read_write> y: array<f32>;  // y forward, dx backward
@group(0) @binding(2) var<uniform> step: Step;

//#include random

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= LEN) { return; }
    let bits = pcg(pcg(pcg(step.seed ^ (LAYER * 0x9E3779B9u)) + step.step) + i);
    // Top 24 bits as a uniform in [0, 1).
    let u = f32(bits >> 8u) / 16777216.0;
    var keep = 0.0;
    if (u >= P) { keep = 1.0 / (1.0 - P); }
    y[i] = x[i] * keep;
}
