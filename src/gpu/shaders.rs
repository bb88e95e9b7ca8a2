//! WGSL sources, compiled into the binary so native and wasm builds carry the same kernels.

pub fn source(name: &str) -> &'static str {
    match name {
        "matmul" => include_str!("../../shaders/matmul.wgsl"),
        "relu" => include_str!("../../shaders/relu.wgsl"),
        "binary" => include_str!("../../shaders/binary.wgsl"),
        "scale" => include_str!("../../shaders/scale.wgsl"),
        "fill" => include_str!("../../shaders/fill.wgsl"),
        "bias" => include_str!("../../shaders/bias.wgsl"),
        "reduce" => include_str!("../../shaders/reduce.wgsl"),
        "cross_entropy" => include_str!("../../shaders/cross_entropy.wgsl"),
        "batch" => include_str!("../../shaders/batch.wgsl"),
        "flat_reduce" => include_str!("../../shaders/flat_reduce.wgsl"),
        "sam_perturb" => include_str!("../../shaders/sam_perturb.wgsl"),
        "sam_rules" => include_str!("../../shaders/sam_rules.wgsl"),
        "optimizer" => include_str!("../../shaders/optimizer.wgsl"),
        "metrics" => include_str!("../../shaders/metrics.wgsl"),
        "conv" => include_str!("../../shaders/conv.wgsl"),
        "channel" => include_str!("../../shaders/channel.wgsl"),
        "pool" => include_str!("../../shaders/pool.wgsl"),
        "dropout" => include_str!("../../shaders/dropout.wgsl"),
        "topk" => include_str!("../../shaders/topk.wgsl"),
        "sam_masks" => include_str!("../../shaders/sam_masks.wgsl"),
        "row_select" => include_str!("../../shaders/row_select.wgsl"),
        "probe" => include_str!("../../shaders/probe.wgsl"),
        other => panic!("unknown shader {other:?}"), // ok: names are compile-time constants in ops/
    }
}
