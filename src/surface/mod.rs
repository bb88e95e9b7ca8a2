//! SAM in two dimensions: the training's own SAM loop and optimizer stepping on a classic 2-D loss
//! surface, so the page can draw what the real thing does, step by step.
//!
//! The two parameters sit in a flat parameter buffer like a network's weights, with gradient,
//! saved-weight, momentum and scalar buffers of the same layout. Where training records a
//! network's forward/backward pass, this records one small kernel (`shaders/surface.wgsl`,
//! `PASS`) that writes L(w) and ∇L(w); everything else is `sam::build_steps` with the very
//! perturb, flat-reduction and optimizer kernels a training step runs:
//!
//! ```text
//! ∇L(w) → grad0 → ‖g0‖ (sam::flat_reduction) → saved = w, w += ε (sam_perturb)
//!   → ∇L(w + ε) → grad1 → w ← opt(saved, grad1) (optimizer, FROM_SAVED) → record
//! ```
//!
//! Each pass also writes the point it was evaluated at, L and ∇L into a trace row, and a closing
//! `RECORD` kernel adds the gradient the update used and the new w: one row per step, read back once
//! per `submit_steps` call.

use std::sync::Arc;

use crate::gpu::{BufView, Gpu, GpuError, Kernel, OwnedBuffers, Plan};
use crate::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use crate::sam::{self, FlatBuffers, SamConfig, SamKind, SamUniforms, StepParts, StepPlan};

/// Floats per trace row (see shaders/surface.wgsl).
const ROW_LEN: usize = 14;
/// Most steps one `submit_steps` call takes (the trace buffer's rows).
pub const MAX_STEPS_PER_CALL: usize = 1000;
/// Most grid points per side of `submit_grid`.
pub const MAX_GRID: usize = 400;
/// The SAM forms the view offers (each one checked against a CPU reference in tests/surface.rs).
pub const SAM_KINDS: &[SamKind] = &[SamKind::None, SamKind::Sam, SamKind::Asam];

/// A loss surface over (x, y); formulas in shaders/surface.wgsl.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Surface {
    /// A narrow, deeper valley beside a wide, shallower one.
    SharpFlat,
    Rosenbrock,
    Saddle,
    /// (x² + κ·y²)/2 with condition number κ ≥ 1.
    Quadratic {
        condition: f64,
    },
}

/// What the view needs to know about a surface: its name, formula, the square it is drawn on and
/// settings that show something (where SGD and SAM part ways, a stable learning rate).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SurfaceInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub formula: &'static str,
    /// `[x0, x1, y0, y1]`.
    pub domain: [f64; 4],
    pub start: [f64; 2],
    pub lr: f64,
    /// ρ for SAM and for ASAM (η = 0.01), which lives on another scale.
    pub rho: f64,
    pub rho_asam: f64,
    pub note: &'static str,
}

impl Surface {
    pub const NAMES: &'static [&'static str] = &["sharp-flat", "rosenbrock", "saddle", "quadratic"];
    /// The quadratic's default condition number.
    pub const DEFAULT_CONDITION: f64 = 10.0;

    /// `name` as in `NAMES`; `condition` only for the quadratic (default 10).
    pub fn parse(name: &str, condition: Option<f64>) -> Result<Surface, String> {
        let surface = match name {
            "sharp-flat" => Surface::SharpFlat,
            "rosenbrock" => Surface::Rosenbrock,
            "saddle" => Surface::Saddle,
            "quadratic" => Surface::Quadratic {
                condition: condition.unwrap_or(Self::DEFAULT_CONDITION),
            },
            _ => {
                return Err(format!(
                    "unknown surface {name:?}: use {}",
                    Self::NAMES.join(", ")
                ))
            }
        };
        if condition.is_some() && !matches!(surface, Surface::Quadratic { .. }) {
            return Err(format!(
                "condition is the quadratic surface's setting, not {name:?}'s"
            ));
        }
        if let Surface::Quadratic { condition } = surface {
            if !(condition.is_finite() && (1.0..=1e4).contains(&condition)) {
                return Err(format!(
                    "condition must be a number from 1 to 10000, got {condition}"
                ));
            }
        }
        Ok(surface)
    }

    pub fn info(self) -> SurfaceInfo {
        match self {
            Surface::SharpFlat => SurfaceInfo {
                name: "sharp-flat",
                title: "Sharp and flat valley",
                formula: "−log(exp(−|w−a|²/(2·0.2²)) + ½·exp(−|w−b|²/(2·0.8²))), a = (−0.6, 0), b = (0.6, 0)",
                domain: [-2.0, 2.0, -2.0, 2.0],
                start: [-1.2, 1.2],
                lr: 0.04,
                rho: 0.2,
                rho_asam: 0.8,
                note: "The narrow valley on the left is deeper; from the default start SGD settles in it, \
                       SAM and ASAM feel its walls within ρ and move on to the wide one.",
            },
            Surface::Rosenbrock => SurfaceInfo {
                name: "rosenbrock",
                title: "Rosenbrock",
                formula: "(1 − x)² + 100·(y − x²)²",
                domain: [-2.0, 2.0, -1.0, 3.0],
                start: [-1.5, 2.5],
                lr: 0.001,
                rho: 0.05,
                rho_asam: 0.05,
                note: "A curved, narrow valley with its minimum at (1, 1): every method first drops into \
                       the valley, then crawls along it.",
            },
            Surface::Saddle => SurfaceInfo {
                name: "saddle",
                title: "Saddle",
                formula: "x² − y²/2 + y⁴/4",
                domain: [-2.0, 2.0, -2.0, 2.0],
                start: [1.8, 0.05],
                lr: 0.1,
                rho: 0.3,
                rho_asam: 0.3,
                note: "A saddle at the origin between minima at (0, ±1). Starting near y = 0, SGD and \
                       ASAM escape along y; SAM with ρ = 0.3 stays at the saddle: its ascent step along \
                       the steep x direction hides the slow descent along y.",
            },
            Surface::Quadratic { condition } => SurfaceInfo {
                name: "quadratic",
                title: "Quadratic bowl",
                formula: "(x² + κ·y²)/2",
                domain: [-2.0, 2.0, -2.0, 2.0],
                start: [-1.8, 1.5],
                // Half the stability limit 2/κ of the steep direction.
                lr: 1.0 / condition,
                rho: 0.1,
                rho_asam: 0.5,
                note: "A bowl with condition number κ: steps zig-zag across the steep y direction while \
                       they creep along x, and lr above 2/κ diverges. SAM does not settle at the \
                       minimum: it ends bouncing around it, ρ away along the steep direction.",
            },
        }
    }

    fn kernel(self, variant: &'static str) -> Kernel {
        let kernel = Kernel::new("surface").define(variant);
        match self {
            Surface::SharpFlat => kernel.define("SHARP_FLAT"),
            Surface::Rosenbrock => kernel.define("ROSENBROCK"),
            Surface::Saddle => kernel.define("SADDLE"),
            Surface::Quadratic { condition } => kernel
                .define("QUADRATIC")
                .constant("CONDITION", condition as f32),
        }
    }
}

/// One run of an optimizer on a surface.
#[derive(Clone, Debug, PartialEq)]
pub struct SurfaceConfig {
    pub surface: Surface,
    /// The SAM form (one of `SAM_KINDS`) with its ρ (and ASAM's η).
    pub sam: SamConfig,
    pub lr: f64,
    /// SGD momentum (PyTorch's: the buffer starts at the first gradient); 0 = plain SGD.
    pub momentum: f64,
    pub start: [f64; 2],
}

impl SurfaceConfig {
    /// The surface's suggested settings for the SAM form `kind`.
    pub fn suggested(surface: Surface, kind: SamKind) -> SurfaceConfig {
        let info = surface.info();
        let rho = match kind {
            SamKind::Asam => info.rho_asam,
            SamKind::None => 0.0,
            _ => info.rho,
        };
        SurfaceConfig {
            surface,
            sam: SamConfig {
                rho: Some(rho),
                ..SamConfig::new(kind)
            },
            lr: info.lr,
            momentum: 0.0,
            start: info.start,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !SAM_KINDS.contains(&self.sam.kind) {
            let names: Vec<&str> = SAM_KINDS.iter().map(|k| k.name()).collect();
            return Err(format!(
                "sam {:?} is not offered on 2-D surfaces: use {}",
                self.sam.kind.name(),
                names.join(", ")
            ));
        }
        self.sam.validate()?;
        check_lr(self.lr)?;
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        check_start(self.start)
    }
}

fn check_lr(lr: f64) -> Result<(), String> {
    if lr.is_finite() && lr > 0.0 {
        Ok(())
    } else {
        Err(format!("lr must be a number > 0, got {lr}"))
    }
}

fn check_rho(rho: f64) -> Result<(), String> {
    if rho.is_finite() && rho >= 0.0 {
        Ok(())
    } else {
        Err(format!("rho must be a number ≥ 0, got {rho}"))
    }
}

fn check_start(start: [f64; 2]) -> Result<(), String> {
    if start.iter().all(|v| v.is_finite() && v.abs() <= 1e6) {
        Ok(())
    } else {
        Err(format!(
            "start must be two finite numbers [x, y], got {start:?}"
        ))
    }
}

/// One step as the GPU took it. `perturbed*` are None for the base optimizer alone.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TracePoint {
    /// Steps taken before this one since the start (or the last reset).
    pub step: u64,
    pub w: [f32; 2],
    pub loss: f32,
    pub grad: [f32; 2],
    /// w + ε, L(w + ε) and ∇L(w + ε).
    pub perturbed: Option<[f32; 2]>,
    pub perturbed_loss: Option<f32>,
    pub perturbed_grad: Option<[f32; 2]>,
    /// The gradient the optimizer update used (∇L(w + ε) for SAM, ∇L(w) for SGD).
    pub update: [f32; 2],
    /// w after the step.
    pub next: [f32; 2],
    pub lr: f64,
    pub rho: f64,
}

/// The SAM loop and the optimizer on a 2-element parameter buffer, with a surface kernel in place
/// of the network's passes.
pub struct SurfaceRun {
    pub config: SurfaceConfig,
    /// Steps since the start (or the last reset).
    pub steps: u64,
    gpu: Arc<Gpu>,
    params: BufView,
    optimizer: Optimizer,
    step_plan: StepPlan,
    trace: BufView,
    trace_uniforms: wgpu::Buffer,
    sam_uniforms: wgpu::Buffer,
    _owned: OwnedBuffers,
}

impl SurfaceRun {
    pub fn new(gpu: &Arc<Gpu>, config: SurfaceConfig) -> Result<SurfaceRun, String> {
        config.validate()?;
        let mut owned = OwnedBuffers::new(gpu);
        let mut alloc = |len: usize| {
            let view = gpu.alloc(len);
            owned.keep(&view);
            view
        };
        let [params, grad0, grad1, grad2, saved, direction, state] =
            std::array::from_fn(|_| alloc(2));
        // ASAM's official form scales weights only; both coordinates count as weights here.
        let weight_mask = alloc(2);
        gpu.queue
            .write_buffer(&weight_mask.buffer, 0, bytemuck::cast_slice(&[1.0f32; 2]));
        let tensor_table = alloc(4);
        gpu.queue.write_buffer(
            &tensor_table.buffer,
            0,
            bytemuck::cast_slice(&[0u32, 2, 0, 2]),
        );
        let scalars = alloc(sam::SCALARS_LEN);
        let counts = alloc(4);
        let trace = alloc(MAX_STEPS_PER_CALL * ROW_LEN);
        let sam_uniforms = gpu.alloc_uniform(std::mem::size_of::<SamUniforms>() as u64);
        let trace_uniforms = gpu.alloc_uniform(16);
        owned.keep_buffer(&sam_uniforms);
        owned.keep_buffer(&trace_uniforms);
        let uniform_view = |buffer: &wgpu::Buffer| BufView {
            buffer: buffer.clone(),
            offset: 0,
            len: 4,
        };
        let (sam_view, trace_view) = (uniform_view(&sam_uniforms), uniform_view(&trace_uniforms));

        // The surface's gradient "pass" into each gradient buffer, recording at the pass's slot.
        let pass = |grads: &BufView, slot: u32| {
            let kernel = config.surface.kernel("PASS").constant("RECORD_SLOT", slot);
            let mut plan = Plan::new();
            plan.push(gpu.dispatch(&kernel, &[&params, grads, &trace, &trace_view], [1, 1, 1]));
            plan
        };
        let record = |update: &BufView| {
            let mut plan = Plan::new();
            let kernel = config.surface.kernel("RECORD");
            plan.push(gpu.dispatch(&kernel, &[&params, update, &trace, &trace_view], [1, 1, 1]));
            plan
        };
        let optimizer_config = OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: config.lr,
            momentum: config.momentum,
            weight_decay: 0.0,
            ..OptimizerConfig::default()
        };
        let optimizer = Optimizer::new(gpu, optimizer_config, 2);
        let optimizer_uniforms = optimizer.uniforms_view();
        let flat = FlatBuffers {
            params: &params,
            grad0: &grad0,
            grad1: &grad1,
            grad2: &grad2,
            saved: &saved,
            direction: &direction,
            state: &state,
            momentum: optimizer.momentum(),
            weight_mask: &weight_mask,
            scalars: &scalars,
            sam_uniforms: &sam_view,
            tensor_table: &tensor_table,
            tensor_count: 1,
        };
        let no_plan = Plan::new();
        let record_plain = record(&grad0);
        let record_sam = record(sam::update_gradient(&flat));
        let parts = StepParts {
            load_batch: &no_plan,
            // The third pass is CR-SAM's, which the view does not offer.
            pass_into: [&pass(&grad0, 0), &pass(&grad1, 5), &no_plan],
            update_from_saved: &optimizer.update(
                &params,
                sam::update_gradient(&flat),
                Some(&saved),
            ),
            update_in_place_grad0: &optimizer.update(&params, &grad0, None),
            update_in_place_grad1: &optimizer.update(&params, &grad1, None),
            metrics_plain: &record_plain,
            metrics_sam: &record_sam,
            metrics_after_perturbed: &record_sam,
            weight_decay: 0.0,
            sub_batches: &[],
            previous_batch: None,
            optimizer_uniforms: &optimizer_uniforms,
            sample_passes: &[],
            parameter_count: 2,
            seed: 0,
            counts: &counts,
            row_table: None,
            esam: None,
        };
        let mut scratch = Vec::new();
        let step_plan = sam::build_steps(gpu, &config.sam, &flat, &parts, &mut scratch).remove(0);
        for view in &scratch {
            owned.keep(view);
        }
        let mut run = SurfaceRun {
            config,
            steps: 0,
            gpu: gpu.clone(),
            params,
            optimizer,
            step_plan,
            trace,
            trace_uniforms,
            sam_uniforms,
            _owned: owned,
        };
        run.reset(run.config.start)?;
        Ok(run)
    }

    /// Starts again from `start` with fresh optimizer state (momentum).
    pub fn reset(&mut self, start: [f64; 2]) -> Result<(), String> {
        check_start(start)?;
        let w = [start[0] as f32, start[1] as f32];
        self.gpu
            .queue
            .write_buffer(&self.params.buffer, 0, bytemuck::cast_slice(&w));
        self.optimizer.reset_state();
        self.config.start = start;
        self.steps = 0;
        Ok(())
    }

    pub fn set_rho(&mut self, rho: f64) -> Result<(), String> {
        check_rho(rho)?;
        self.config.sam.rho = Some(rho);
        Ok(())
    }

    pub fn set_learning_rate(&mut self, lr: f64) -> Result<(), String> {
        check_lr(lr)?;
        self.config.lr = lr;
        Ok(())
    }

    /// Submits `n` steps (at most `MAX_STEPS_PER_CALL`), each its own submission as in training
    /// (the uniforms change per step), and a copy of their trace rows; `read` the result.
    pub fn submit_steps(&mut self, n: usize) -> Result<PendingTrace, String> {
        if !(1..=MAX_STEPS_PER_CALL).contains(&n) {
            return Err(format!(
                "steps must be a whole number from 1 to {MAX_STEPS_PER_CALL}, got {n}"
            ));
        }
        let (lr, rho) = (self.config.lr, self.config.sam.rho());
        let first = self.steps;
        for row in 0..n {
            let uniforms = SamUniforms {
                rho: rho as f32,
                first_step: (self.steps == 0) as u32,
                average_weight: 0.0,
                sam_step: self.steps as u32,
            };
            let queue = &self.gpu.queue;
            queue.write_buffer(&self.sam_uniforms, 0, bytemuck::bytes_of(&uniforms));
            queue.write_buffer(
                &self.trace_uniforms,
                0,
                bytemuck::cast_slice(&[row as u32, 0, 0, 0]),
            );
            self.optimizer.prepare(lr);
            self.gpu.submit(&[&self.step_plan.plan]);
            self.steps += 1;
        }
        // A copy of this call's rows, so a later call cannot overwrite them before the read.
        let snapshot = self.gpu.alloc(n * ROW_LEN);
        let mut copy = Plan::new();
        copy.copy(&self.trace.slice(0, n * ROW_LEN), &snapshot);
        self.gpu.submit(&[&copy]);
        Ok(PendingTrace {
            gpu: self.gpu.clone(),
            snapshot,
            first,
            perturbed: self.config.sam.kind != SamKind::None,
            lr,
            rho,
        })
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }
}

/// Steps submitted and not yet read.
pub struct PendingTrace {
    gpu: Arc<Gpu>,
    snapshot: BufView,
    first: u64,
    perturbed: bool,
    lr: f64,
    rho: f64,
}

impl PendingTrace {
    pub async fn read(self) -> Result<Vec<TracePoint>, GpuError> {
        let words = self.gpu.read_f32(&self.snapshot).await;
        self.gpu.release(self.snapshot.buffer.clone());
        let words = words?;
        let pair = |row: &[f32], at: usize| [row[at], row[at + 1]];
        Ok(words
            .chunks_exact(ROW_LEN)
            .enumerate()
            .map(|(i, row)| TracePoint {
                step: self.first + i as u64,
                w: pair(row, 0),
                loss: row[2],
                grad: pair(row, 3),
                perturbed: self.perturbed.then(|| pair(row, 5)),
                perturbed_loss: self.perturbed.then_some(row[7]),
                perturbed_grad: self.perturbed.then(|| pair(row, 8)),
                update: pair(row, 10),
                next: pair(row, 12),
                lr: self.lr,
                rho: if self.perturbed { self.rho } else { 0.0 },
            })
            .collect())
    }
}

/// The loss on an n × n grid over the surface's domain, for the heatmap: `loss[j][i]` at
/// x = x0 + i·(x1 − x0)/(n − 1), y = y0 + j·(y1 − y0)/(n − 1).
#[derive(Clone, Debug, serde::Serialize)]
pub struct SurfaceGrid {
    pub domain: [f64; 4],
    pub n: usize,
    pub loss: Vec<Vec<f32>>,
}

/// Submits the grid kernel; `read` the result.
pub fn submit_grid(gpu: &Arc<Gpu>, surface: Surface, n: usize) -> Result<PendingGrid, String> {
    if !(2..=MAX_GRID).contains(&n) {
        return Err(format!(
            "grid points per side must be a whole number from 2 to {MAX_GRID}, got {n}"
        ));
    }
    let domain = surface.info().domain;
    let out = gpu.alloc(n * n);
    let kernel = surface
        .kernel("GRID")
        .constant("GRID_N", n as u32)
        .constant("X0", domain[0] as f32)
        .constant("X1", domain[1] as f32)
        .constant("Y0", domain[2] as f32)
        .constant("Y1", domain[3] as f32);
    let mut plan = Plan::new();
    plan.push(gpu.dispatch(&kernel, &[&out], [(n * n).div_ceil(64) as u32, 1, 1]));
    gpu.submit(&[&plan]);
    Ok(PendingGrid {
        gpu: gpu.clone(),
        out,
        domain,
        n,
    })
}

pub struct PendingGrid {
    gpu: Arc<Gpu>,
    out: BufView,
    domain: [f64; 4],
    n: usize,
}

impl PendingGrid {
    pub async fn read(self) -> Result<SurfaceGrid, GpuError> {
        let values = self.gpu.read_f32(&self.out).await;
        self.gpu.release(self.out.buffer.clone());
        Ok(SurfaceGrid {
            domain: self.domain,
            n: self.n,
            loss: values?.chunks_exact(self.n).map(<[f32]>::to_vec).collect(),
        })
    }
}
