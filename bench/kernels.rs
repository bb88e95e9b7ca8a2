//! Native kernel benchmark: samlab's matmul kernel (through `ops::matmul_into` on a `Graph`, the
//! path every Linear and convolution takes) in GFLOP/s, next to an FMA-chain peak measured on the
//! same adapter (bench/fma.wgsl). Run: `cargo run --release --example kernels` (lavapipe here).
//!
//! Shapes: 1024×1024×1024 (NN) and the matmuls of the MLP 784-256-256-10 at batch 128 (samlab's
//! Linear is x·Wᵀ, layout NT; its weight gradient dyᵀ·x is TN; the hidden input gradient dy·W is
//! NN). Each figure is the median over `ROUNDS` rounds; a round submits `reps` launches in one
//! command buffer and waits for the queue, so per-submit overhead is amortised. The FMA peak is the
//! best of six forms (fma() or multiply + add, 1, 4 or 8 independent vec4 chains per invocation).
//! Prints one JSON line per kernel and the matmul/peak ratios.

use std::time::Instant;

use samlab::autograd::Graph;
use samlab::gpu::Gpu;
use samlab::ops::{matmul_into, MatmulLayout};

const ROUNDS: usize = 5;
/// Floating-point work per round, roughly: enough that a round takes ~0.1–0.5 s on a CPU adapter.
const FLOP_PER_ROUND: f64 = 2.0e9;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// `//#if NAME` (or `A || B`) / `//#else` / `//#endif`, nestable, as src/gpu/pipelines.rs
/// `preprocess` reads shaders/*.wgsl (that module is private to the crate).
fn preprocess(source: &str, defines: &[&str]) -> String {
    let mut out = String::new();
    let mut stack: Vec<bool> = Vec::new();
    for line in source.lines() {
        let t = line.trim_start();
        if let Some(name) = t.strip_prefix("//#if ") {
            stack.push(name.split("||").any(|n| defines.contains(&n.trim())));
        } else if t.starts_with("//#else") {
            if let Some(top) = stack.last_mut() {
                *top = !*top;
            }
        } else if t.starts_with("//#endif") {
            stack.pop();
        } else if stack.iter().all(|&on| on) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn wait(gpu: &Gpu) {
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("device poll");
}

/// GFLOP/s of the FMA chain in one form.
fn fma_peak(gpu: &Gpu, fma: bool, chains: u32) -> f64 {
    let mut defines = Vec::new();
    if fma {
        defines.push("FMA");
    }
    match chains {
        4 => defines.push("CHAINS4"),
        8 => defines.push("CHAINS8"),
        _ => {}
    }
    let source = preprocess(include_str!("fma.wgsl"), &defines);
    let module = gpu
        .device
        .create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("fma"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
    let iters: u32 = 1024;
    let pipeline = gpu
        .device
        .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("fma"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &[("ITERS", iters as f64)],
                zero_initialize_workgroup_memory: true,
            },
            cache: None,
        });
    // 64 × 512 × 4 = 131,072 invocations.
    let groups = [512u32, 4, 1];
    let invocations = 64 * groups[0] * groups[1];
    let out = gpu.alloc(invocations as usize * 4);
    let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("fma"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: out.buffer.as_entire_binding(),
        }],
    });
    let flop = invocations as f64 * iters as f64 * 8.0 * chains as f64;
    let reps = (FLOP_PER_ROUND / flop).ceil().max(1.0) as usize;
    let run = |reps: usize| {
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            for _ in 0..reps {
                pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
            }
        }
        gpu.queue.submit(Some(encoder.finish()));
        wait(gpu);
    };
    run(1); // compiles
    let mut times: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            run(reps);
            start.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    flop / median(&mut times) / 1e9
}

/// GFLOP/s of C[M,N] = op(A)·op(B) through samlab's matmul op.
fn matmul_gflops(gpu: &std::sync::Arc<Gpu>, [m, n, k]: [usize; 3], layout: MatmulLayout) -> f64 {
    let fill = |len: usize, seed: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + seed) % 1000) as f32 / 1000.0 - 0.5)
            .collect()
    };
    let a = gpu.upload(&fill(m * k, 1));
    let b = gpu.upload(&fill(k * n, 2));
    let c = gpu.alloc(m * n);
    let mut graph = Graph::new(gpu);
    matmul_into(&mut graph, &a, &b, &c, m, n, k, layout);
    let built = graph.finish();
    let flop = 2.0 * (m * n * k) as f64;
    let reps = (FLOP_PER_ROUND / flop).ceil().max(1.0) as usize;
    let run = |reps: usize| {
        gpu.submit(&vec![&built.plan; reps]);
        wait(gpu);
    };
    run(1);
    let mut times: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            run(reps);
            start.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    flop / median(&mut times) / 1e9
}

fn main() -> Result<(), String> {
    std::env::set_var(
        "XDG_RUNTIME_DIR",
        std::env::var_os("XDG_RUNTIME_DIR").unwrap_or_else(|| std::env::temp_dir().into()),
    );
    let gpu = pollster::block_on(Gpu::new()).map_err(|e| e.to_string())?;
    let adapter = gpu.adapter_name();
    let mut peak: f64 = 0.0;
    for (fma, chains) in [
        (true, 1),
        (true, 4),
        (true, 8),
        (false, 1),
        (false, 4),
        (false, 8),
    ] {
        let gflops = fma_peak(&gpu, fma, chains);
        peak = peak.max(gflops);
        let form = format!(
            "{}, {chains} chain{}",
            if fma { "fma()" } else { "mul+add" },
            if chains > 1 { "s" } else { "" }
        );
        println!(
            "{}",
            serde_json::json!({"system": "samlab-native", "kernel": "fma-chain", "form": form,
                "gflops": (gflops * 10.0).round() / 10.0, "adapter": adapter})
        );
    }
    let shapes: [(&str, [usize; 3], MatmulLayout); 5] = [
        ("1024x1024x1024", [1024, 1024, 1024], MatmulLayout::NN),
        ("mlp fc1 forward x·W1ᵀ", [128, 256, 784], MatmulLayout::NT),
        (
            "mlp fc1 weight grad dyᵀ·x",
            [256, 784, 128],
            MatmulLayout::TN,
        ),
        ("mlp fc2 forward x·W2ᵀ", [128, 256, 256], MatmulLayout::NT),
        (
            "mlp fc2 input grad dy·W2",
            [128, 256, 256],
            MatmulLayout::NN,
        ),
    ];
    let mut rows = Vec::new();
    for (name, shape, layout) in shapes {
        let gflops = matmul_gflops(&gpu, shape, layout);
        rows.push((name, gflops));
        println!(
            "{}",
            serde_json::json!({"system": "samlab-native", "kernel": "matmul", "shape": name,
                "mnk": shape, "layout": format!("{layout:?}"),
                "gflops": (gflops * 10.0).round() / 10.0,
                "fraction_of_peak": (gflops / peak * 1000.0).round() / 1000.0, "adapter": adapter})
        );
    }
    println!(
        "FMA-chain peak {peak:.1} GFLOP/s on {adapter} (best form; medians of {ROUNDS} rounds)"
    );
    for (name, gflops) in rows {
        let goal = if name.starts_with("1024") {
            format!(
                " (goal ≥ 40%: {})",
                if gflops >= 0.4 * peak {
                    "met"
                } else {
                    "not met"
                }
            )
        } else {
            String::new()
        };
        println!(
            "  matmul {name:<28} {gflops:7.1} GFLOP/s = {:5.1}% of peak{goal}",
            100.0 * gflops / peak
        );
    }
    Ok(())
}
