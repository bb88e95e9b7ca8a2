// Integer-hash randomness shared by the kernels that draw (included with `//#include random`):
// dropout masks, augmentation, the SAM variants' masks and noise, the sharpness probe's vectors.
// Every draw is a function of integers (seed, step, index), so runs are reproducible and the
// fixture scripts recompute draws exactly.

// PCG-style integer hash: one LCG step and the RXS-M-XS output permutation.
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// The top 24 bits as a uniform in [0, 1) (exact in f32).
fn unit_uniform(bits: u32) -> f32 {
    return f32(bits >> 8u) / 16777216.0;
}

// A standard normal from one source hash by Marsaglia's polar method (no trigonometry: WGSL
// allows cos an absolute error of 2^-11, while log and sqrt are accurate).
fn normal(source: u32) -> f32 {
    for (var k = 0u; k < 64u; k = k + 1u) {
        let v1 = 2.0 * unit_uniform(pcg(source + 2u * k)) - 1.0;
        let v2 = 2.0 * unit_uniform(pcg(source + 2u * k + 1u)) - 1.0;
        let s = v1 * v1 + v2 * v2;
        if (s > 0.0 && s < 1.0) {
            return v1 * sqrt(-2.0 * log(s) / s);
        }
    }
    return 0.0;  // 64 rejections in a row: probability below 1e-40
}
