//! Sharpness instruments (../shared/docs/sam-algorithms.md §4): Hessian-vector products, λ_max,
//! tr(H), worst-case ρ-sharpness, and loss-landscape slices, all on the GPU over one fixed batch
//! with BatchNorm frozen (running statistics, dropout off).
//!
//! A `Probe` owns a copy of the weights `w`, a `point` buffer that its two prebuilt plans read (a
//! forward/backward into `grad`, a forward only), and a few flat vectors in the parameter layout.
//! Every instrument is host-driven: it writes a point (w + h·v, w + α·d1 + β·d2, …) with one
//! `shaders/probe.wgsl` kernel, runs a plan, and reads back the few scalars it needs (a loss, a
//! dot product) to decide the next step — a handful of bytes per gradient.
//!
//! Hessian-vector products use central differences of two gradients, so no double backward is
//! needed: `H·v ≈ [∇L(w + h·v̂) − ∇L(w − h·v̂)]/(2h)·‖v‖`. Both gradients follow the ReLU and
//! max-pool pattern of w (`Pieces::Follow`): the loss is then smooth along the difference, and the
//! product is the Hessian of w's linear region, what a double backward gives. Without that, a
//! difference that straddles a kink is off by a gradient jump over 2h (a trained MNIST MLP gave
//! λ_max = −84 instead of 2.34). The step is `h = 3e-2·‖w‖/√P`, 30× the spec's 1e-3: rounding
//! w ± h·v̂ to f32 perturbs each element's share of the direction by about ε_f32·√P·(1e-3/c)
//! relative, which at the spec's c = 1e-3 is 2e-3 for 670 parameters and O(1) for 270,000; the
//! smooth truncation error O(h²) stays below it (docs/sharpness.md has the measured errors).

use std::ops::Range;
use std::sync::Arc;

use crate::autograd::{BuiltPlan, Graph, Pieces};
use crate::data::Batch;
use crate::gpu::{grid_1d, BufView, Gpu, GpuError, Kernel, OwnedBuffers, Plan};
use crate::nn::{bind_parameters, ForwardContext, Model};
use crate::ops::{cross_entropy, NormMode};

/// The HVP's step over ‖w‖/√P (see the module comment).
pub const DEFAULT_STEP: f64 = 3e-2;

/// One eigenvalue estimate of power iteration.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Eigen {
    /// The Rayleigh quotient ⟨v, Hv⟩ at the last iterate (‖v‖ = 1).
    pub value: f64,
    pub iterations: u32,
    /// The relative change of the estimate fell below the tolerance before the iteration cap.
    pub converged: bool,
}

/// Hutchinson's estimate of tr(H): the mean of ⟨z, Hz⟩ over Rademacher vectors z.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    pub value: f64,
    /// Standard error of the mean over the samples (0 for one sample).
    pub std_error: f64,
    pub samples: u32,
}

/// Loss and accuracy at one point of a landscape slice or interpolation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LossPoint {
    pub loss: f64,
    pub accuracy: f64,
}

/// Settings of power iteration.
#[derive(Clone, Debug)]
pub struct PowerIteration {
    /// How many of the top eigenvalues (each later one orthogonal to the earlier vectors).
    pub top: usize,
    pub max_iterations: u32,
    /// Stop when |λ_t − λ_{t−1}| ≤ tolerance·|λ_t|.
    pub tolerance: f64,
    pub seed: u32,
}

impl Default for PowerIteration {
    fn default() -> Self {
        PowerIteration {
            top: 1,
            max_iterations: 20,
            tolerance: 1e-3,
            seed: 0,
        }
    }
}

/// The coefficient block of shaders/probe.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Coefficients {
    a: f32,
    b: f32,
    c: f32,
    seed: u32,
    draw: u32,
    pad: [u32; 3],
}

/// The instruments over one model, one set of weights and one fixed batch.
pub struct Probe {
    gpu: Arc<Gpu>,
    len: usize,
    /// Rows of the fixed batch.
    pub rows: usize,
    parameters: usize,
    /// The weights under study, and the point the plans evaluate.
    weights: BufView,
    point: BufView,
    grad: BufView,
    /// [loss, correct, valid rows, non-finite rows] of the last plan run.
    stats: BufView,
    /// ∇L at `point` with free pieces (ascent), and with w's pieces (Hessian-vector products).
    gradient_plan: Plan,
    hvp_gradient_plan: Plan,
    loss_plan: Plan,
    /// Flat work vectors in the parameter layout.
    work: Vec<BufView>,
    scalars: BufView,
    coefficients: wgpu::Buffer,
    tensors: BufView,
    tensor_count: usize,
    row_table: BufView,
    row_count: usize,
    /// Finite-difference step of the HVP (absolute, along a unit vector).
    pub step: f64,
    _graphs: Vec<BuiltPlan>,
    _owned: OwnedBuffers,
}

/// Indices into `Probe::work`.
const V: usize = 0; // the current vector (unit norm)
const HV: usize = 1; // H·v
const G_PLUS: usize = 2; // ∇L(w + h·v)
const D1: usize = 3; // landscape direction 1 / ascent δ
const D2: usize = 4; // landscape direction 2 / ASAM's T
const SCRATCH: usize = 5;
const WORK_VECTORS: usize = 6;

impl Probe {
    /// A probe of `model` at a copy of `weights` (flat, the model's layout) with a copy of the
    /// BatchNorm running statistics `state`, over the batch `batch` (kept by the probe) that `load`
    /// fills. The copies and the load are submitted here, so steps submitted later do not change
    /// what the probe measures.
    pub fn new(
        gpu: &Arc<Gpu>,
        model: &Model,
        weights: &BufView,
        state: &BufView,
        batch: Batch,
        load: &Plan,
    ) -> Probe {
        let layout = &model.layout;
        let len = layout.total_len;
        let mut owned = OwnedBuffers::new(gpu);
        owned.keep(&batch.x);
        owned.keep(&batch.labels);
        let mut keep = |view: BufView| {
            owned.keep(&view);
            view
        };
        let weights_view = keep(gpu.alloc(len));
        let point = keep(gpu.alloc(len));
        let grad = keep(gpu.alloc(len));
        let state_view = keep(gpu.alloc(state.len.max(1)));
        let mut copies = Plan::new();
        copies.copy(weights, &weights_view);
        copies.copy(weights, &point);
        copies.copy(state, &state_view);
        let step_uniform = gpu.alloc_uniform(16);
        let step_view = BufView::whole(&step_uniform);
        let work: Vec<BufView> = (0..WORK_VECTORS).map(|_| keep(gpu.alloc(len))).collect();
        let scalars = keep(gpu.alloc(16));
        let tensor_table = layout.tensor_table();
        let tensors = keep(gpu.upload(&tensor_table));
        let row_table = layout.row_table();
        let rows = keep(gpu.upload(&row_table));
        let coefficients = gpu.alloc_uniform(std::mem::size_of::<Coefficients>() as u64);
        owned.keep_buffer(&coefficients);
        owned.keep_buffer(&step_uniform);

        let context = ForwardContext {
            state: &state_view,
            mode: NormMode::Eval,
            step: &step_view,
            seen: None,
        };
        // The graphs run one after another, so they share one set of scratch buffers.
        let mut scratch = Vec::new();
        let mut build = |backward: bool, pieces: Pieces, pattern: &[BufView]| {
            let mut g = Graph::recycling(gpu, scratch.clone());
            match pieces {
                Pieces::Record => g.record_pieces(),
                Pieces::Follow => g.follow_pieces(pattern.to_vec()),
                Pieces::Free => {}
            }
            let x = g.input(batch.x.clone(), &[batch.rows, model.inputs()]);
            let tensors = bind_parameters(&mut g, layout, &point, &grad);
            let logits = model.forward(&mut g, x, &tensors, &context);
            let loss = cross_entropy(&mut g, logits, &batch.labels, 0.0);
            if backward {
                g.backward(loss.loss);
            }
            let recorded = g.pattern();
            let built = g.finish();
            if scratch.is_empty() {
                scratch = built.scratch();
            }
            (built, loss.stats, recorded)
        };
        // The gradient at the perturbed points of a Hessian-vector product follows the ReLU and
        // max-pool pattern of w, so the loss is smooth along the difference (`Pieces::Follow`).
        let (gradient, stats, _) = build(true, Pieces::Free, &[]);
        let (record, _, pattern) = build(false, Pieces::Record, &[]);
        let (hvp_gradient, hvp_stats, _) = build(true, Pieces::Follow, &pattern);
        let (forward, forward_stats, _) = build(false, Pieces::Free, &[]);
        let mut loss_plan = forward.plan.clone();
        loss_plan.copy(&forward_stats, &stats);
        let mut hvp_gradient_plan = hvp_gradient.plan.clone();
        hvp_gradient_plan.copy(&hvp_stats, &stats);
        let mut probe = Probe {
            gpu: gpu.clone(),
            len,
            rows: batch.rows,
            parameters: layout.parameter_count(),
            weights: weights_view,
            point,
            grad,
            stats,
            gradient_plan: gradient.plan.clone(),
            hvp_gradient_plan,
            loss_plan,
            work,
            scalars,
            coefficients,
            tensors,
            tensor_count: layout.specs.len(),
            row_table: rows,
            row_count: row_table.len() / 4,
            step: 0.0,
            _graphs: vec![gradient, hvp_gradient, forward],
            _owned: owned,
        };
        gpu.submit(&[&copies, load, &record.plan]);
        probe._graphs.push(record); // owns the pattern buffers
        probe
    }

    /// Sets the HVP's step to its default, `DEFAULT_STEP`·‖w‖/√P.
    pub async fn use_default_step(&mut self) -> Result<f64, GpuError> {
        let norm = self.norm(&self.weights.clone()).await?;
        self.step = (DEFAULT_STEP * norm / (self.parameters.max(1) as f64).sqrt()).max(1e-6);
        Ok(self.step)
    }

    /// Multiplies ranges of the probe's copy of the weights by factors (`layer_rescaling`); the
    /// trainer's weights are untouched.
    pub async fn rescale(&mut self, factors: &[(Range<usize>, f32)]) -> Result<(), GpuError> {
        if factors.is_empty() {
            return Ok(());
        }
        let mut weights = self.gpu.read_f32(&self.weights).await?;
        for (range, factor) in factors {
            for w in &mut weights[range.clone()] {
                *w *= factor;
            }
        }
        self.gpu.queue.write_buffer(
            &self.weights.buffer,
            self.weights.offset,
            bytemuck::cast_slice(&weights),
        );
        Ok(())
    }

    /// Loss and accuracy at w.
    pub async fn loss(&mut self) -> Result<LossPoint, GpuError> {
        let (w, point) = (self.weights.clone(), self.point.clone());
        self.axpby(&point, 1.0, &w, 0.0, &w);
        self.run_loss().await
    }

    /// H·v into `out` for a unit vector `v` (central differences of two gradients).
    fn hvp_into(&mut self, v: &BufView, out: &BufView) {
        let h = self.step as f32;
        let (w, point, grad, plus) = (
            self.weights.clone(),
            self.point.clone(),
            self.grad.clone(),
            self.work[G_PLUS].clone(),
        );
        self.axpby(&point, 1.0, &w, h, v);
        self.gpu.submit(&[&self.hvp_gradient_plan]);
        self.axpby(&plus, 1.0, &grad, 0.0, &grad);
        self.axpby(&point, 1.0, &w, -h, v);
        self.gpu.submit(&[&self.hvp_gradient_plan]);
        self.axpby(out, 0.5 / h, &plus, -0.5 / h, &grad);
    }

    /// H·v for a host vector `v` (any norm), read back: for tests and small models.
    pub async fn hvp(&mut self, v: &[f32]) -> Result<Vec<f32>, GpuError> {
        if self.step == 0.0 {
            self.use_default_step().await?;
        }
        let norm = v
            .iter()
            .map(|&x| (x as f64) * (x as f64))
            .sum::<f64>()
            .sqrt();
        let unit: Vec<f32> = v
            .iter()
            .map(|&x| (x as f64 / norm.max(1e-30)) as f32)
            .collect();
        let (vv, hv) = (self.work[V].clone(), self.work[HV].clone());
        self.gpu
            .queue
            .write_buffer(&vv.buffer, vv.offset, bytemuck::cast_slice(&unit));
        self.hvp_into(&vv, &hv);
        let out = self.gpu.read_f32(&hv).await?;
        Ok(out.iter().map(|&x| (x as f64 * norm) as f32).collect())
    }

    /// The `settings.top` largest eigenvalues of H (largest in magnitude; power iteration with
    /// Gram–Schmidt against the earlier eigenvectors after every product).
    pub async fn top_eigenvalues(
        &mut self,
        settings: &PowerIteration,
    ) -> Result<Vec<Eigen>, GpuError> {
        if self.step == 0.0 {
            self.use_default_step().await?;
        }
        let mut found: Vec<BufView> = Vec::new();
        let mut out = Vec::new();
        let (v, hv) = (self.work[V].clone(), self.work[HV].clone());
        for index in 0..settings.top {
            self.random(&v, false, settings.seed, index as u32);
            self.orthonormalize(&v, &found).await?;
            let mut value = 0.0;
            let mut iterations = 0;
            let mut converged = false;
            while iterations < settings.max_iterations {
                self.hvp_into(&v, &hv);
                iterations += 1;
                let (dot, _, _) = self.dots(&v, &hv).await?;
                let change = (dot - value).abs();
                value = dot;
                if iterations > 1 && change <= settings.tolerance * value.abs() {
                    converged = true;
                    break;
                }
                // v ← Hv, orthogonal to the eigenvectors already found, normalised.
                self.axpby(&v, 1.0, &hv, 0.0, &hv);
                if self.orthonormalize(&v, &found).await? == 0.0 {
                    break; // H·v = 0: v is in the null space, λ = 0
                }
            }
            out.push(Eigen {
                value,
                iterations,
                converged,
            });
            let keep = self.gpu.alloc(self.len);
            self.axpby(&keep, 1.0, &v, 0.0, &v);
            found.push(keep);
        }
        for view in found {
            self.gpu.release(view.buffer);
        }
        Ok(out)
    }

    /// tr(H) by Hutchinson: the mean of ⟨z, Hz⟩ over `samples` Rademacher vectors.
    pub async fn hessian_trace(&mut self, samples: u32, seed: u32) -> Result<Trace, GpuError> {
        if self.step == 0.0 {
            self.use_default_step().await?;
        }
        let (v, hv) = (self.work[V].clone(), self.work[HV].clone());
        let scale = (self.parameters as f64).sqrt();
        let mut values = Vec::new();
        for sample in 0..samples.max(1) {
            // z/‖z‖ = z/√P, so ⟨z, Hz⟩ = P·⟨v̂, H v̂⟩.
            self.random(&v, true, seed, 1_000_000 + sample);
            self.axpby(&v, (1.0 / scale) as f32, &v.clone(), 0.0, &v.clone());
            self.hvp_into(&v, &hv);
            let (dot, _, _) = self.dots(&v, &hv).await?;
            values.push(dot * scale * scale);
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance = if n > 1.0 {
            values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Ok(Trace {
            value: mean,
            std_error: (variance / n).sqrt(),
            samples: n as u32,
        })
    }

    /// Worst-case ρ-sharpness max_{‖δ‖≤ρ} L(w + δ) − L(w), estimated by `steps` steps of projected
    /// normalised ascent of size ρ (the first step is SAM's ε). With `adaptive` = Some(η), ASAM's
    /// ball ‖δ / T‖ ≤ ρ with T = |w| + η (the ascent runs in u = δ/T). Returns (L(w + δ) − L(w), L(w)).
    pub async fn worst_case_sharpness(
        &mut self,
        rho: f64,
        steps: u32,
        adaptive: Option<f64>,
    ) -> Result<(f64, f64), GpuError> {
        let base = self.loss().await?.loss;
        let (w, grad) = (self.weights.clone(), self.grad.clone());
        let (u, t, scratch) = (
            self.work[D1].clone(),
            self.work[D2].clone(),
            self.work[SCRATCH].clone(),
        );
        let eta = adaptive.unwrap_or(0.0) as f32;
        self.flat("ABS_PLUS", &[&t, &w], eta, 0.0, 0.0);
        self.axpby(&u, 0.0, &w, 0.0, &w); // u = 0
        for _ in 0..steps.max(1) {
            // point = w + T⊙u (T = 1 without `adaptive`)
            self.point_from(&u, &t, adaptive.is_some());
            self.gpu.submit(&[&self.gradient_plan]);
            // ascent direction in u: T⊙g, normalised
            if adaptive.is_some() {
                self.flat("MUL", &[&scratch, &grad, &t], 0.0, 0.0, 0.0);
            } else {
                self.axpby(&scratch, 1.0, &grad, 0.0, &grad);
            }
            let (_, norm_sq, _) = self.dots(&scratch, &scratch).await?;
            let norm = norm_sq.sqrt();
            if norm == 0.0 {
                break;
            }
            self.axpby(&u, 1.0, &u.clone(), (rho / norm) as f32, &scratch);
            self.reduce_norm(&u);
            self.flat(
                "PROJECT",
                &[&u, &self.scalars.clone()],
                rho as f32,
                0.0,
                0.0,
            );
        }
        self.point_from(&u, &t, adaptive.is_some());
        let at = self.run_loss().await?.loss;
        Ok((at - base, base))
    }

    /// L(w + α·d) for α in `alphas`, d a filter-normalised Gaussian direction (seeded).
    pub async fn landscape_1d(
        &mut self,
        alphas: &[f64],
        seed: u32,
    ) -> Result<Vec<LossPoint>, GpuError> {
        let d = self.work[D1].clone();
        self.filter_normalized_direction(&d, seed, 0);
        let w = self.weights.clone();
        let point = self.point.clone();
        let mut out = Vec::new();
        for &alpha in alphas {
            self.axpby(&point, 1.0, &w, alpha as f32, &d);
            out.push(self.run_loss().await?);
        }
        Ok(out)
    }

    /// L(w + α·d1 + β·d2) on the grid `alphas` × `betas` (rows: β), two filter-normalised
    /// Gaussian directions (seeded).
    pub async fn landscape_2d(
        &mut self,
        alphas: &[f64],
        betas: &[f64],
        seed: u32,
    ) -> Result<Vec<Vec<LossPoint>>, GpuError> {
        let (d1, d2) = (self.work[D1].clone(), self.work[D2].clone());
        self.filter_normalized_direction(&d1, seed, 0);
        self.filter_normalized_direction(&d2, seed, 1);
        let (w, point) = (self.weights.clone(), self.point.clone());
        let mut grid = Vec::new();
        for &beta in betas {
            let mut row = Vec::new();
            for &alpha in alphas {
                self.flat(
                    "AXPBYPCZ",
                    &[&point, &w, &d1, &d2],
                    1.0,
                    alpha as f32,
                    beta as f32,
                );
                row.push(self.run_loss().await?);
            }
            grid.push(row);
        }
        Ok(grid)
    }

    /// L((1 − t)·w + t·other) for t in `ts` (`other` in the same layout).
    pub async fn interpolate(
        &mut self,
        other: &[f32],
        ts: &[f64],
    ) -> Result<Vec<LossPoint>, GpuError> {
        let target = self.work[D1].clone();
        self.gpu
            .queue
            .write_buffer(&target.buffer, target.offset, bytemuck::cast_slice(other));
        let (w, point) = (self.weights.clone(), self.point.clone());
        let mut out = Vec::new();
        for &t in ts {
            self.axpby(&point, (1.0 - t) as f32, &w, t as f32, &target);
            out.push(self.run_loss().await?);
        }
        Ok(out)
    }

    /// A filter-normalised direction into `d` (read back: for tests).
    pub async fn direction(&mut self, seed: u32, draw: u32) -> Result<Vec<f32>, GpuError> {
        let d = self.work[D1].clone();
        self.filter_normalized_direction(&d, seed, draw);
        self.gpu.read_f32(&d).await
    }

    // ---- building blocks ----

    fn filter_normalized_direction(&mut self, d: &BufView, seed: u32, draw: u32) {
        self.random(d, false, seed, draw);
        let kernel = Kernel::new("probe")
            .define("FILTER_NORMALIZE")
            .constant("LEN", self.len as u32)
            .constant("ROWS", self.row_count as u32);
        let command = self.gpu.dispatch(
            &kernel,
            &[d, &self.weights, &self.row_table],
            grid_1d(self.row_count),
        );
        self.submit_one(command);
    }

    /// point = w + T⊙u (or w + u).
    fn point_from(&mut self, u: &BufView, t: &BufView, scaled: bool) {
        let (w, point, scratch) = (
            self.weights.clone(),
            self.point.clone(),
            self.work[SCRATCH].clone(),
        );
        if scaled {
            self.flat("MUL", &[&scratch, u, t], 0.0, 0.0, 0.0);
            self.axpby(&point, 1.0, &w, 1.0, &scratch);
        } else {
            self.axpby(&point, 1.0, &w, 1.0, u);
        }
    }

    /// A Rademacher (`signs`) or Gaussian vector, 0 on padding, from (seed, draw).
    fn random(&mut self, out: &BufView, signs: bool, seed: u32, draw: u32) {
        self.write_coefficients(Coefficients {
            seed,
            draw,
            ..Coefficients::default()
        });
        let kernel = Kernel::new("probe")
            .define(if signs { "RADEMACHER" } else { "GAUSSIAN" })
            .constant("LEN", self.len as u32)
            .constant("TENSORS", self.tensor_count as u32);
        let command = self.gpu.dispatch(
            &kernel,
            &[out, &self.tensors, &BufView::whole(&self.coefficients)],
            grid_1d(self.len),
        );
        self.submit_one(command);
    }

    /// v ← v − Σ ⟨v, u_j⟩·u_j, then v ← v/‖v‖; returns the norm before normalising.
    async fn orthonormalize(&mut self, v: &BufView, basis: &[BufView]) -> Result<f64, GpuError> {
        for u in basis {
            let (dot, _, _) = self.dots(u, v).await?;
            self.axpby(v, 1.0, &v.clone(), -dot as f32, u);
        }
        let (_, norm_sq, _) = self.dots(v, v).await?;
        let norm = norm_sq.sqrt();
        if norm > 0.0 {
            self.axpby(v, (1.0 / norm) as f32, &v.clone(), 0.0, &v.clone());
        }
        Ok(norm)
    }

    async fn norm(&mut self, v: &BufView) -> Result<f64, GpuError> {
        Ok(self.dots(v, v).await?.1.sqrt())
    }

    /// (⟨a, b⟩, ‖b‖², ‖a‖²), read back.
    async fn dots(&mut self, a: &BufView, b: &BufView) -> Result<(f64, f64, f64), GpuError> {
        self.reduce(Kernel::new("flat_reduce").define("DOTS"), a, Some(b));
        let s = self.gpu.read_f32(&self.scalars.slice(0, 4)).await?;
        Ok((s[0] as f64, s[1] as f64, s[2] as f64))
    }

    /// ‖v‖² into scalars[0].y (left on the GPU for PROJECT).
    fn reduce_norm(&mut self, v: &BufView) {
        self.reduce(Kernel::new("flat_reduce").define("NORMS"), v, None);
    }

    fn reduce(&mut self, kernel: Kernel, a: &BufView, b: Option<&BufView>) {
        let (plan, partials) =
            crate::sam::flat_reduction(&self.gpu, kernel, a, b, &[], &self.scalars, 0);
        self.gpu.submit(&[&plan]);
        self.gpu.release(partials.buffer);
    }

    /// out = a·x + b·y. WebGPU forbids binding one buffer writable and readable in a dispatch, so
    /// an `out` that is `x` runs in place (out = a·out + b·y; with y = out too, out = (a + b)·out).
    fn axpby(&mut self, out: &BufView, a: f32, x: &BufView, b: f32, y: &BufView) {
        let same = |p: &BufView, q: &BufView| p.buffer == q.buffer && p.offset == q.offset;
        match (same(out, x), same(out, y)) {
            (false, false) => self.flat("AXPBY", &[out, x, y], a, b, 0.0),
            (true, false) => self.flat("SCALE_ADD", &[out, y], a, b, 0.0),
            (false, true) => self.flat("SCALE_ADD", &[out, x], b, a, 0.0),
            (true, true) => {
                let w = self.weights.clone();
                self.flat("SCALE_ADD", &[out, &w], a + b, 0.0, 0.0)
            }
        }
    }

    /// One probe.wgsl kernel over the flat vector; the coefficient uniform is bound after the
    /// first three bindings (or second, for the one-input kernels).
    fn flat(&mut self, variant: &'static str, bindings: &[&BufView], a: f32, b: f32, c: f32) {
        self.write_coefficients(Coefficients {
            a,
            b,
            c,
            ..Coefficients::default()
        });
        let uniform = BufView::whole(&self.coefficients);
        let mut all: Vec<&BufView> = Vec::new();
        match variant {
            // MUL reads no coefficient, and WebGPU's automatic layouts drop unused bindings.
            "MUL" => all.extend(&bindings[..3]),
            "AXPBY" => {
                all.extend(&bindings[..3]);
                all.push(&uniform);
            }
            "AXPBYPCZ" => {
                all.extend(&bindings[..3]);
                all.push(&uniform);
                all.push(bindings[3]);
            }
            _ => {
                all.extend(bindings);
                all.push(&uniform);
            }
        }
        let kernel = Kernel::new("probe")
            .define(variant)
            .constant("LEN", self.len as u32);
        let command = self.gpu.dispatch(&kernel, &all, grid_1d(self.len));
        self.submit_one(command);
    }

    fn write_coefficients(&self, k: Coefficients) {
        self.gpu
            .queue
            .write_buffer(&self.coefficients, 0, bytemuck::bytes_of(&k));
    }

    fn submit_one(&self, command: crate::gpu::Command) {
        let mut plan = Plan::new();
        plan.push(command);
        self.gpu.submit(&[&plan]);
    }

    async fn run_loss(&mut self) -> Result<LossPoint, GpuError> {
        self.gpu.submit(&[&self.loss_plan]);
        let s = self.gpu.read_f32(&self.stats).await?;
        Ok(LossPoint {
            loss: s[0] as f64,
            accuracy: s[1] as f64 / (s[2] as f64).max(1.0),
        })
    }
}

/// The reparametrisation of ASAM's scale-invariance test (Kwon et al. 2021, §3): an MLP's first
/// layer (weight and bias) times `a`, the next layer's weight times 1/a, as ranges of the flat
/// weights and their factors. ReLU is positively homogeneous, so for a > 0 the network computes
/// the same function; SAM's ρ-ball sharpness changes with a, ASAM's adaptive one (η = 0) does not.
/// a = 1 is no rescaling, for any model.
pub fn layer_rescaling(model: &Model, a: f64) -> Result<Vec<(Range<usize>, f32)>, String> {
    if !(a.is_finite() && a > 0.0) {
        return Err(format!("scale must be a finite number > 0, got {a}"));
    }
    if a == 1.0 {
        return Ok(Vec::new());
    }
    let specs = &model.layout.specs;
    if model.kind != crate::nn::ModelKind::Mlp || specs.len() < 4 {
        return Err(format!(
            "rescaling layers needs an MLP with a hidden layer (ReLU keeps its function), not {}",
            model.summary
        ));
    }
    let range = |i: usize| specs[i].offset..specs[i].offset + specs[i].len();
    Ok(vec![
        (range(0), a as f32),
        (range(1), a as f32),
        (range(2), (1.0 / a) as f32),
    ])
}

/// What `measure` computes (each part optional); the JS API and the CLI fill it.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SharpnessRequest {
    /// Rows of the fixed batch (the first test images).
    pub rows: usize,
    /// Top eigenvalues of H by power iteration (0: skip).
    pub top: usize,
    pub max_iterations: u32,
    pub tolerance: f64,
    /// Hutchinson samples for tr(H) (0: skip).
    pub trace_samples: u32,
    /// Worst-case ρ-sharpness (ρ = 0: skip) by `ascent_steps` projected ascent steps, and with
    /// `eta` the adaptive (ASAM) form too.
    pub rho: f64,
    pub ascent_steps: u32,
    pub eta: Option<f64>,
    pub seed: u32,
    /// The HVP's finite-difference step; None: 1e-3·‖w‖/√P.
    pub step: Option<f64>,
    /// Measure the same function reparametrised (`layer_rescaling`): the first layer times
    /// `scale`, the next times 1/scale (1: the weights as they are). The caller applies it.
    pub scale: f64,
}

impl Default for SharpnessRequest {
    fn default() -> Self {
        SharpnessRequest {
            rows: 512,
            top: 1,
            max_iterations: 20,
            tolerance: 1e-3,
            trace_samples: 0,
            rho: 0.0,
            ascent_steps: 3,
            eta: None,
            seed: 0,
            step: None,
            scale: 1.0,
        }
    }
}

impl SharpnessRequest {
    /// The request's keys as JavaScript spells them.
    pub const KEYS: &'static [&'static str] = &[
        "rows",
        "top",
        "maxIterations",
        "tolerance",
        "traceSamples",
        "rho",
        "ascentSteps",
        "eta",
        "seed",
        "step",
        "scale",
    ];

    pub fn validate(&self) -> Result<(), String> {
        check_rows(self.rows)?;
        if self.top > 16 {
            return Err(format!(
                "top must be at most 16 eigenvalues, got {}",
                self.top
            ));
        }
        if self.max_iterations == 0 || self.max_iterations > 1000 {
            return Err(format!(
                "maxIterations must be between 1 and 1000, got {}",
                self.max_iterations
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(format!(
                "tolerance must be a number > 0, got {}",
                self.tolerance
            ));
        }
        if self.trace_samples > 10_000 {
            return Err(format!(
                "traceSamples must be at most 10000, got {}",
                self.trace_samples
            ));
        }
        if !(self.rho.is_finite() && self.rho >= 0.0) {
            return Err(format!("rho must be a finite number ≥ 0, got {}", self.rho));
        }
        if self.ascent_steps == 0 || self.ascent_steps > 100 {
            return Err(format!(
                "ascentSteps must be between 1 and 100, got {}",
                self.ascent_steps
            ));
        }
        if let Some(eta) = self.eta {
            if !(eta.is_finite() && eta >= 0.0) {
                return Err(format!("eta must be a finite number ≥ 0, got {eta}"));
            }
        }
        if let Some(step) = self.step {
            if !(step.is_finite() && step > 0.0) {
                return Err(format!("step must be a finite number > 0, got {step}"));
            }
        }
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(format!(
                "scale must be a finite number > 0, got {}",
                self.scale
            ));
        }
        Ok(())
    }
}

/// What `measure` found.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SharpnessReport {
    pub loss: f64,
    pub accuracy: f64,
    /// Rows of the fixed batch.
    pub rows: usize,
    /// The HVP's finite-difference step used.
    pub step: f64,
    pub eigenvalues: Vec<Eigen>,
    pub trace: Option<Trace>,
    pub worst_case: Option<f64>,
    pub adaptive_worst_case: Option<f64>,
    /// Gradient evaluations spent (two per Hessian-vector product, one per ascent step).
    pub gradients: u64,
}

/// Runs the instruments `request` asks for.
pub async fn measure(
    probe: &mut Probe,
    request: &SharpnessRequest,
) -> Result<SharpnessReport, GpuError> {
    let base = probe.loss().await?;
    match request.step {
        Some(step) => probe.step = step,
        None => {
            probe.use_default_step().await?;
        }
    }
    let mut gradients = 0;
    let mut eigenvalues = Vec::new();
    if request.top > 0 {
        eigenvalues = probe
            .top_eigenvalues(&PowerIteration {
                top: request.top,
                max_iterations: request.max_iterations,
                tolerance: request.tolerance,
                seed: request.seed,
            })
            .await?;
        gradients += 2 * eigenvalues.iter().map(|e| e.iterations as u64).sum::<u64>();
    }
    let mut trace = None;
    if request.trace_samples > 0 {
        trace = Some(
            probe
                .hessian_trace(request.trace_samples, request.seed)
                .await?,
        );
        gradients += 2 * request.trace_samples as u64;
    }
    let (mut worst_case, mut adaptive_worst_case) = (None, None);
    if request.rho > 0.0 {
        worst_case = Some(
            probe
                .worst_case_sharpness(request.rho, request.ascent_steps, None)
                .await?
                .0,
        );
        gradients += request.ascent_steps as u64;
        if let Some(eta) = request.eta {
            adaptive_worst_case = Some(
                probe
                    .worst_case_sharpness(request.rho, request.ascent_steps, Some(eta))
                    .await?
                    .0,
            );
            gradients += request.ascent_steps as u64;
        }
    }
    Ok(SharpnessReport {
        loss: base.loss,
        accuracy: base.accuracy,
        rows: probe.rows,
        step: probe.step,
        eigenvalues,
        trace,
        worst_case,
        adaptive_worst_case,
        gradients,
    })
}

/// Which slice `landscape` draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LandscapeKind {
    /// L(w + α·d), d filter-normalised.
    Line,
    /// L(w + α·d1 + β·d2).
    Plane,
    /// L((1 − t)·w + t·other).
    Interpolation,
}

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LandscapeRequest {
    /// Rows of the fixed batch (the first test images).
    pub rows: usize,
    pub kind: LandscapeKind,
    /// Points per axis (Li et al.: 51 on [−1, 1]).
    pub points: usize,
    /// α (and β) run over [−span, span]; t over [−span/2, 1 + span/2] for interpolation.
    pub span: f64,
    pub seed: u32,
}

impl Default for LandscapeRequest {
    fn default() -> Self {
        LandscapeRequest {
            rows: 512,
            kind: LandscapeKind::Line,
            points: 51,
            span: 1.0,
            seed: 0,
        }
    }
}

impl LandscapeRequest {
    /// The request's keys as JavaScript spells them.
    pub const KEYS: &'static [&'static str] = &["rows", "kind", "points", "span", "seed"];

    pub fn validate(&self) -> Result<(), String> {
        check_rows(self.rows)?;
        let limit = if self.kind == LandscapeKind::Plane {
            101
        } else {
            1001
        };
        if self.points < 2 || self.points > limit {
            return Err(format!(
                "points must be between 2 and {limit} per axis, got {}",
                self.points
            ));
        }
        if !(self.span.is_finite() && self.span > 0.0 && self.span <= 100.0) {
            return Err(format!(
                "span must be a number in (0, 100], got {}",
                self.span
            ));
        }
        Ok(())
    }

    /// The coordinates along each axis.
    pub fn axis(&self) -> Vec<f64> {
        let (start, end) = match self.kind {
            LandscapeKind::Interpolation => (-self.span / 2.0, 1.0 + self.span / 2.0),
            _ => (-self.span, self.span),
        };
        let n = self.points.max(2);
        (0..n)
            .map(|i| start + (end - start) * i as f64 / (n - 1) as f64)
            .collect()
    }
}

#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LandscapeReport {
    pub kind: LandscapeKind,
    /// α (line, plane) or t (interpolation).
    pub axis: Vec<f64>,
    /// One row for a line or an interpolation; one row per β for a plane.
    pub loss: Vec<Vec<f64>>,
    pub accuracy: Vec<Vec<f64>>,
    pub rows: usize,
}

/// Draws the slice `request` asks for; `other` (same layout) is required for an interpolation.
pub async fn landscape(
    probe: &mut Probe,
    request: &LandscapeRequest,
    other: Option<&[f32]>,
) -> Result<LandscapeReport, String> {
    request.validate()?;
    let axis = request.axis();
    let grid = match request.kind {
        LandscapeKind::Line => vec![probe
            .landscape_1d(&axis, request.seed)
            .await
            .map_err(|e| e.to_string())?],
        LandscapeKind::Plane => probe
            .landscape_2d(&axis, &axis, request.seed)
            .await
            .map_err(|e| e.to_string())?,
        LandscapeKind::Interpolation => {
            let other = other.ok_or("an interpolation needs a second set of weights")?;
            if other.len() != probe.len {
                return Err(format!(
                    "the second set of weights has {} values, this model needs {}",
                    other.len(),
                    probe.len
                ));
            }
            vec![probe
                .interpolate(other, &axis)
                .await
                .map_err(|e| e.to_string())?]
        }
    };
    Ok(LandscapeReport {
        kind: request.kind,
        axis,
        loss: grid
            .iter()
            .map(|r| r.iter().map(|p| p.loss).collect())
            .collect(),
        accuracy: grid
            .iter()
            .map(|r| r.iter().map(|p| p.accuracy).collect())
            .collect(),
        rows: probe.rows,
    })
}

fn check_rows(rows: usize) -> Result<(), String> {
    if rows == 0 || rows > 100_000 {
        return Err(format!("rows must be between 1 and 100000, got {rows}"));
    }
    Ok(())
}
