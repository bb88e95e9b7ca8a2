//! `cos`, `sin`, `pow` and number parsing of f64 for what the host computes per step or per model (learning-rate and
//! drop-rate schedules, Adam's bias corrections, μP² scales, a test-set rotation, numbers in
//! settings strings). Natively std's; on wasm32 the
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

/// sin(x), x in radians.
pub fn sin(x: f64) -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        x.sin()
    }
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Math::sin(x)
    }
}

/// `text` as an f64 (Rust's `str::parse` syntax). Natively `str::parse`; on wasm32 the same
/// syntax check and then the browser's `parseFloat`, because core's correctly rounded parser
/// carries a 10 KB table of powers of five that would cost the page 10 KB of gzip'd download
/// (docs/benchmarks.md, "In the browser"). Both round correctly, so the values agree.
pub fn parse_f64(text: &str) -> Option<f64> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        text.parse().ok()
    }
    #[cfg(target_arch = "wasm32")]
    {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let special = match unsigned.to_ascii_lowercase().as_str() {
            "inf" | "infinity" => Some(f64::INFINITY),
            "nan" => Some(f64::NAN),
            _ => None,
        };
        if let Some(value) = special {
            return Some(if negative { -value } else { value });
        }
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
            None => (unsigned, None),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let valid = digits(whole)
            && digits(fraction)
            && !(whole.is_empty() && fraction.is_empty())
            && exponent.is_none_or(|e| !e.is_empty() && digits(e));
        valid.then(|| js_sys::parse_float(text))
    }
}
