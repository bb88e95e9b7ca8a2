//! `cos` and `pow` of f64 for what the host computes per step or per model (learning-rate and
//! drop-rate schedules, Adam's bias corrections, μP² scales). Natively std's; on wasm32 the
//! browser's `Math.cos` and `Math.pow`, because Rust's software versions (libm's, with their
//! argument reduction) would add 8 KB to the page's download (docs/benchmarks.md, "In the
//! browser"). Both are accurate to about an ulp, and every result is rounded to f32 for the GPU.

/// cos(x), x in radians.
pub fn cos(x: f64) -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        x.cos()
    }
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Math::cos(x)
    }
}

/// base^exponent.
pub fn pow(base: f64, exponent: f64) -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        base.powf(exponent)
    }
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Math::pow(base, exponent)
    }
}
