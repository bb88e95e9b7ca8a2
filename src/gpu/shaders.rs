//! WGSL sources (shaders/, copied by build.rs; comment-free in wasm builds), compiled into the binary so native and wasm builds carry the same kernels.

pub fn source(name: &str) -> &'static str {
    match name {
        "matmul" => include_str!(concat!(env!("OUT_DIR"), "/shaders/matmul.wgsl")),
        "relu" => include_str!(concat!(env!("OUT_DIR"), "/shaders/relu.wgsl")),
        "binary" => include_str!(concat!(env!("OUT_DIR"), "/shaders/binary.wgsl")),
        "scale" => include_str!(concat!(env!("OUT_DIR"), "/shaders/scale.wgsl")),
        "fill" => include_str!(concat!(env!("OUT_DIR"), "/shaders/fill.wgsl")),
        "bias" => include_str!(concat!(env!("OUT_DIR"), "/shaders/bias.wgsl")),
        "reduce" => include_str!(concat!(env!("OUT_DIR"), "/shaders/reduce.wgsl")),
        "cross_entropy" => include_str!(concat!(env!("OUT_DIR"), "/shaders/cross_entropy.wgsl")),
        "batch" => include_str!(concat!(env!("OUT_DIR"), "/shaders/batch.wgsl")),
        "flat_reduce" => include_str!(concat!(env!("OUT_DIR"), "/shaders/flat_reduce.wgsl")),
        "sam_perturb" => include_str!(concat!(env!("OUT_DIR"), "/shaders/sam_perturb.wgsl")),
        "sam_rules" => include_str!(concat!(env!("OUT_DIR"), "/shaders/sam_rules.wgsl")),
        "optimizer" => include_str!(concat!(env!("OUT_DIR"), "/shaders/optimizer.wgsl")),
        "metrics" => include_str!(concat!(env!("OUT_DIR"), "/shaders/metrics.wgsl")),
        "conv" => include_str!(concat!(env!("OUT_DIR"), "/shaders/conv.wgsl")),
        "channel" => include_str!(concat!(env!("OUT_DIR"), "/shaders/channel.wgsl")),
        "pool" => include_str!(concat!(env!("OUT_DIR"), "/shaders/pool.wgsl")),
        "dropout" => include_str!(concat!(env!("OUT_DIR"), "/shaders/dropout.wgsl")),
        "topk" => include_str!(concat!(env!("OUT_DIR"), "/shaders/topk.wgsl")),
        "sam_masks" => include_str!(concat!(env!("OUT_DIR"), "/shaders/sam_masks.wgsl")),
        "row_select" => include_str!(concat!(env!("OUT_DIR"), "/shaders/row_select.wgsl")),
        "probe" => include_str!(concat!(env!("OUT_DIR"), "/shaders/probe.wgsl")),
        "random" => include_str!(concat!(env!("OUT_DIR"), "/shaders/random.wgsl")),
        "shift" => include_str!(concat!(env!("OUT_DIR"), "/shaders/shift.wgsl")),
        "surface" => include_str!(concat!(env!("OUT_DIR"), "/shaders/surface.wgsl")),
        other => panic!("unknown shader {other:?}"), // ok: names are compile-time constants in ops/
    }
}

/// `source(name)` with every `//#include other` line replaced by `source(other)` (one level: the
/// included files are function libraries such as shaders/random.wgsl), so helpers that several
/// kernels share are written once.
pub fn with_includes(name: &str) -> String {
    let mut out = String::new();
    for line in source(name).lines() {
        match line.trim().strip_prefix("//#include ") {
            Some(other) => out.push_str(source(other.trim())),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_includes;

    #[test]
    fn includes_are_expanded_once_in_place() {
        let dropout = with_includes("dropout");
        assert!(!dropout
            .lines()
            .any(|line| line.trim().starts_with("//#include")));
        assert_eq!(dropout.matches("fn pcg(").count(), 1, "{dropout}");
    }
}
