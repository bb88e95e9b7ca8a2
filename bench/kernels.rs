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
use samlab::ops::{tiled_matmul_into, Batch, MatmulLayout, MatmulTiling};

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

/// CPU time (user + system, all threads) this process has used, in seconds, from /proc/self/stat
/// (10 ms ticks). llvmpipe runs the shaders on threads of this process, so FLOP per CPU-second is
/// a kernel's rate with the machine's other load taken out (the wall-clock figure is not, on a
/// shared machine). None where /proc is absent.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Runs `round` ROUNDS times; returns the median wall-clock seconds of a round and the mean CPU
/// seconds of one.
fn time_rounds(mut round: impl FnMut()) -> (f64, Option<f64>) {
    let cpu0 = cpu_seconds();
    let mut times: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            round();
            start.elapsed().as_secs_f64()
        })
        .collect();
    let cpu = cpu0
        .zip(cpu_seconds())
        .map(|(a, b)| (b - a) / ROUNDS as f64);
    (median(&mut times), cpu)
}

/// A figure in GFLOP/s: by the wall clock and per CPU-second.
#[derive(Clone, Copy)]
struct Rate {
    wall: f64,
    cpu: Option<f64>,
}

fn rate(flop_per_round: f64, (wall, cpu): (f64, Option<f64>)) -> Rate {
    Rate {
        wall: flop_per_round / wall / 1e9,
        cpu: cpu.map(|c| flop_per_round / c / 1e9),
    }
}

fn wait(gpu: &Gpu) {
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("device poll");
}

/// GFLOP/s of the FMA chain in one form.
fn fma_peak(gpu: &Gpu, fma: bool, chains: u32) -> Rate {
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
    rate(flop * reps as f64, time_rounds(|| run(reps)))
}

/// GFLOP/s of C[M,N] = op(A)·op(B) through samlab's matmul op.
fn matmul_gflops(
    gpu: &std::sync::Arc<Gpu>,
    [m, n, k]: [usize; 3],
    layout: MatmulLayout,
    tiling: Option<MatmulTiling>,
) -> Rate {
    let fill = |len: usize, seed: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + seed) % 1000) as f32 / 1000.0 - 0.5)
            .collect()
    };
    let a = gpu.upload(&fill(m * k, 1));
    let b = gpu.upload(&fill(k * n, 2));
    let c = gpu.alloc(m * n);
    let mut graph = Graph::new(gpu);
    let tiling = tiling.unwrap_or_else(|| MatmulTiling::choose(gpu, m, n));
    tiled_matmul_into(
        &mut graph,
        &a,
        &b,
        &c,
        [m, n, k],
        layout,
        Batch::ONE,
        tiling,
    );
    let built = graph.finish();
    let flop = 2.0 * (m * n * k) as f64;
    let reps = (FLOP_PER_ROUND / flop).ceil().max(1.0) as usize;
    let run = |reps: usize| {
        gpu.submit(&vec![&built.plan; reps]);
        wait(gpu);
    };
    run(1);
    let timed = time_rounds(|| run(reps));
    // Spot check against the CPU (a kernel that failed to compile would time as a no-op).
    let (a_host, b_host) = (fill(m * k, 1), fill(k * n, 2));
    let got = pollster::block_on(gpu.read_f32(&c)).expect("matmul result readback");
    let (trans_a, trans_b) = (layout == MatmulLayout::TN, layout == MatmulLayout::NT);
    for s in 0..16 {
        let (i, j) = ((s * 7919) % m, (s * 104_729) % n);
        let want: f32 = (0..k)
            .map(|p| {
                let x = if trans_a {
                    a_host[p * m + i]
                } else {
                    a_host[i * k + p]
                };
                let y = if trans_b {
                    b_host[j * k + p]
                } else {
                    b_host[p * n + j]
                };
                x * y
            })
            .sum();
        let error = (got[i * n + j] - want).abs() / (1.0 + want.abs());
        assert!(
            error < 1e-3,
            "matmul {m}x{n}x{k} {layout:?}: C[{i},{j}] = {} but the CPU gives {want}",
            got[i * n + j]
        );
    }
    rate(flop * reps as f64, timed)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn main() -> Result<(), String> {
    std::env::set_var(
        "XDG_RUNTIME_DIR",
        std::env::var_os("XDG_RUNTIME_DIR").unwrap_or_else(|| std::env::temp_dir().into()),
    );
    let gpu = pollster::block_on(Gpu::new()).map_err(|e| e.to_string())?;
    let adapter = gpu.adapter_name();
    let mut peak = Rate {
        wall: 0.0,
        cpu: Some(0.0),
    };
    for (fma, chains) in [
        (true, 1),
        (true, 4),
        (true, 8),
        (false, 1),
        (false, 4),
        (false, 8),
    ] {
        let r = fma_peak(&gpu, fma, chains);
        peak.wall = peak.wall.max(r.wall);
        peak.cpu = peak.cpu.zip(r.cpu).map(|(p, c)| p.max(c));
        let form = format!(
            "{}, {chains} chain{}",
            if fma { "fma()" } else { "mul+add" },
            if chains > 1 { "s" } else { "" }
        );
        println!(
            "{}",
            serde_json::json!({"system": "samlab-native", "kernel": "fma-chain", "form": form,
                "gflops": round1(r.wall), "gflops_per_cpu_s": r.cpu.map(round1), "adapter": adapter})
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
    // `--tiles 8x8,16x8s`: every shape with each tiling (rows x columns, `s`: subgroups share A's
    // loads) instead of the one samlab chooses.
    let args: Vec<String> = std::env::args().collect();
    let sweep: Vec<Option<MatmulTiling>> = match args.iter().position(|a| a == "--tiles") {
        Some(i) => args
            .get(i + 1)
            .ok_or("--tiles needs a list such as 8x8,16x8s")?
            .split(',')
            .map(|t| {
                let (dims, shared) = t.strip_suffix('s').map_or((t, false), |d| (d, true));
                let (rows, cols) = dims.split_once('x').ok_or(format!("bad tile {t}"))?;
                Ok(Some(MatmulTiling {
                    rows: rows.parse().map_err(|_| format!("bad tile {t}"))?,
                    cols: cols.parse().map_err(|_| format!("bad tile {t}"))?,
                    subgroup: if shared {
                        Some(
                            gpu.fixed_subgroup_size
                                .ok_or("this adapter has no fixed subgroup size")?,
                        )
                    } else {
                        None
                    },
                }))
            })
            .collect::<Result<_, String>>()?,
        None => vec![None],
    };
    let mut rows = Vec::new();
    for (tiling, (name, shape, layout)) in sweep
        .iter()
        .flat_map(|t| shapes.iter().map(move |s| (*t, *s)))
    {
        let r = matmul_gflops(&gpu, shape, layout, tiling);
        let chosen = tiling.unwrap_or_else(|| MatmulTiling::choose(&gpu, shape[0], shape[1]));
        let tile = format!(
            "{}x{}{}",
            chosen.rows,
            chosen.cols,
            if chosen.subgroup.is_some() { "s" } else { "" }
        );
        rows.push((name, tile.clone(), r));
        println!(
            "{}",
            serde_json::json!({"system": "samlab-native", "kernel": "matmul", "shape": name,
                "mnk": shape, "layout": format!("{layout:?}"), "tile": tile,
                "gflops": round1(r.wall),
                "fraction_of_peak": (r.wall / peak.wall * 1000.0).round() / 1000.0,
                "gflops_per_cpu_s": r.cpu.map(round1),
                "fraction_of_peak_cpu": r.cpu.zip(peak.cpu).map(|(c, p)| (c / p * 1000.0).round() / 1000.0),
                "adapter": adapter})
        );
    }
    println!(
        "FMA-chain peak {:.1} GFLOP/s ({} per CPU-second) on {adapter} (best form; medians of {ROUNDS} rounds)",
        peak.wall,
        peak.cpu.map_or("—".into(), |c| format!("{c:.1}"))
    );
    for (name, tile, r) in rows {
        let cpu = r.cpu.zip(peak.cpu);
        let goal = if name.starts_with("1024") {
            let fraction = cpu.map_or(r.wall / peak.wall, |(c, p)| c / p);
            format!(
                " (goal ≥ 40%: {})",
                if fraction >= 0.4 { "met" } else { "not met" }
            )
        } else {
            String::new()
        };
        println!(
            "  matmul {name:<28} {tile:<5} {:7.1} GFLOP/s = {:5.1}% of peak; per CPU-second {}{goal}",
            r.wall,
            100.0 * r.wall / peak.wall,
            cpu.map_or("—".into(), |(c, p)| format!("{c:.1} = {:.1}% of peak", 100.0 * c / p))
        );
    }
    Ok(())
}
