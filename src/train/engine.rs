//! The static training step: flat buffers, the forward/backward passes, the optimizer and the SAM
//! loop, built once into one plan per kind of step that `step` submits. It reads its batch from
//! buffers filled by `load_batch` (a gather kernel in training, a host upload in golden tests).

use std::sync::Arc;

use crate::autograd::{BuiltPlan, Graph};
use crate::data::Batch;
use crate::gpu::{BufView, Gpu, Kernel, OwnedBuffers, Plan};
use crate::nn::{bind_parameters, ForwardContext, Model};
use crate::ops::{cross_entropy, NormMode};
use crate::optim::Optimizer;
use crate::sam::{
    self, FlatBuffers, PreviousBatch, SamConfig, SamKind, SamUniforms, StepParts, StepPlan,
    SubBatch,
};

use super::{TrainConfig, METRICS_LEN};

pub struct StepEngine {
    pub params: BufView,
    pub grad0: BufView,
    pub grad1: BufView,
    /// The variant's state vector (F-SAM's EMA, S2-SAM's gradient, LookSAM's ĝv, SSAM's mask).
    pub sam_state: BufView,
    /// `[mean loss, correct, valid rows, non-finite rows]` of the pass at w …
    pub stats1: BufView,
    /// … and of the pass at w + ε (SAM modes).
    pub stats2: BufView,
    /// SAM's reductions (see `sam`): direction norms, ⟨g0, g1⟩ with ‖g1‖² and ‖g0‖², LookSAM's ‖gv‖².
    pub scalars: BufView,
    /// The training-metrics accumulator (see shaders/metrics.wgsl).
    pub train_metrics: BufView,
    /// BatchNorm running statistics (the model's state layout).
    pub norm_state: BufView,
    /// Dropout's `{seed, step}` uniform, written every step.
    pub dropout_step: BufView,
    seed: u32,
    pub optimizer: Optimizer,
    pub plans: Vec<StepPlan>,
    /// The base optimizer's step, for late-phase SAM's steps before the switch.
    pub base_plan: Option<StepPlan>,
    /// SWA: the running mean of the iterates and the plan that folds the current weights in.
    pub average: BufView,
    average_plan: Plan,
    averaged: u64,
    /// Steps taken and forward/backward passes spent by this engine.
    pub steps: u64,
    pub passes: u64,
    /// Steps that ran the SAM rule (F-SAM's first step and LookSAM's period count these).
    sam_steps: u64,
    sam: SamConfig,
    gpu: Arc<Gpu>,
    sam_uniforms: wgpu::Buffer,
    _graphs: Vec<BuiltPlan>,
    _owned: OwnedBuffers,
}

impl StepEngine {
    pub fn new(
        gpu: &Arc<Gpu>,
        model: &Model,
        config: &TrainConfig,
        initial: &[f32],
        batch: &Batch,
        load_batch: Plan,
    ) -> Self {
        let layout = &model.layout;
        let len = layout.total_len;
        let mut owned = OwnedBuffers::new(gpu);
        let mut alloc = |len: usize| {
            let view = gpu.alloc(len);
            owned.keep(&view);
            view
        };
        let params = alloc(len);
        gpu.queue
            .write_buffer(&params.buffer, 0, bytemuck::cast_slice(initial));
        let [grad0, grad1, grad2, saved, direction, state, weight_mask, average] =
            std::array::from_fn(|_| alloc(len));
        gpu.queue.write_buffer(
            &weight_mask.buffer,
            0,
            bytemuck::cast_slice(&layout.weight_mask()),
        );
        let initial_state = model.init_state();
        let norm_state = alloc(initial_state.len());
        gpu.queue
            .write_buffer(&norm_state.buffer, 0, bytemuck::cast_slice(&initial_state));
        let scalars = alloc(sam::SCALARS_LEN);
        let train_metrics = alloc(METRICS_LEN);
        let sam_uniforms = gpu.alloc_uniform(16);
        owned.keep_buffer(&sam_uniforms);
        let dropout_uniform = gpu.alloc_uniform(16);
        owned.keep_buffer(&dropout_uniform);
        let dropout_step = BufView {
            buffer: dropout_uniform,
            offset: 0,
            len: 4,
        };
        let sam_uniform_view = BufView {
            buffer: sam_uniforms.clone(),
            offset: 0,
            len: 4,
        };

        // One forward/backward plan per gradient buffer (they share the batch).
        let smoothing = config.label_smoothing as f32;
        let mut graphs = Vec::new();
        // BatchNorm folds each batch into its running statistics once per step: in the pass at w
        // (davda54 semantics), or in the only pass of the one-pass variants (S2-SAM, MSAM).
        let train_mode = |update_running: bool| NormMode::Train { update_running };
        let one_pass_at_perturbed = matches!(config.sam.kind, SamKind::S2Sam | SamKind::Msam);
        let context = |mode: NormMode| ForwardContext {
            state: &norm_state,
            mode,
            step: &dropout_step,
            seen: None,
        };
        // Every pass after the first reuses the first one's scratch (activations and their
        // gradients): passes run one after another, so SAM costs no extra activation memory.
        let pass_on = |batch: &Batch, grads: &BufView, mode: NormMode, recycle: &[BufView]| {
            let mut g = Graph::recycling(gpu, recycle.to_vec());
            let x = g.input(batch.x.clone(), &[batch.rows, model.inputs()]);
            let tensors = bind_parameters(&mut g, layout, &params, grads);
            let logits = model.forward(&mut g, x, &tensors, &context(mode));
            let loss = cross_entropy(&mut g, logits, &batch.labels, smoothing);
            g.backward(loss.loss);
            (g, loss)
        };
        let mut keep = |built: BuiltPlan| {
            let plan = built.plan.clone();
            graphs.push(built);
            plan
        };
        // Only the passes this variant's plans use are built.
        let kind = config.sam.kind;
        let (first, stats1) = pass_on(batch, &grad0, train_mode(!one_pass_at_perturbed), &[]);
        let first = first.finish();
        let first_scratch = first.scratch();
        let pass0 = keep(first);
        let mut pass = |grads: &BufView, mode: NormMode| {
            let (g, loss) = pass_on(batch, grads, mode, &first_scratch);
            (keep(g.finish()), loss.stats)
        };
        let (pass1, stats2) = if kind == SamKind::None {
            let unused = gpu.alloc(4); // bound by the SAM metrics kernel, never written
            owned.keep(&unused);
            (Plan::new(), unused)
        } else {
            pass(&grad1, train_mode(one_pass_at_perturbed))
        };
        let pass2 = if kind == SamKind::CrSam {
            pass(&grad2, train_mode(false)).0
        } else {
            Plan::new()
        };
        let stats1 = stats1.stats;

        // m-sharpness, SSAM and SAMPa run passes on rows copied out of the batch (storage offsets
        // must be 256-byte aligned, copies only 4-byte).
        let mut sub_views = Vec::new();
        let mut copy_rows = |first_row: usize, rows: usize| {
            let features = model.inputs();
            let x = gpu.alloc(rows * features);
            let labels = gpu.alloc(rows);
            sub_views.extend([x.clone(), labels.clone()]);
            let mut copy = Plan::new();
            copy.copy(&batch.x.slice(first_row * features, rows * features), &x);
            copy.copy(&batch.labels.slice(first_row, rows), &labels);
            (Batch { x, labels, rows }, copy)
        };

        // m-sharpness: each sub-batch of m rows gets its own passes at w and at w + ε_j.
        let mut sub_batches = Vec::new();
        if kind == SamKind::MSharp {
            let rows = config.sam.m() as usize;
            let parts = batch.rows / rows;
            for j in 0..parts {
                let (sub, split) = copy_rows(j * rows, rows);
                // Each sub-batch's pass at w updates the running statistics (every sample once).
                let mut sub_pass = |grads: &BufView, total: &BufView, mode: NormMode| {
                    let (mut g, loss) = pass_on(&sub, grads, mode, &first_scratch);
                    let add = Kernel::new("metrics")
                        .define("STATS_ADD")
                        .define_if(j == 0, "FIRST")
                        .define_if(j + 1 == parts, "STATS_FINISH");
                    g.launch(&add, &[&loss.stats, total], [1, 1, 1]);
                    keep(g.finish())
                };
                let mut pass_at_w = split;
                pass_at_w.extend(sub_pass(&grad0, &stats1, train_mode(true)));
                let pass_perturbed = sub_pass(&grad2, &stats2, train_mode(false));
                sub_batches.push(SubBatch {
                    pass_at_w,
                    pass_perturbed,
                });
            }
        }

        // SSAM: the Fisher samples, row j of the batch copied out and its own pass into grad2.
        let mut sample_passes = Vec::new();
        if kind == SamKind::Ssam {
            for j in 0..config.sam.fisher_samples() as usize {
                let (row, mut plan) = copy_rows(j, 1);
                let (g, _) = pass_on(&row, &grad2, train_mode(false), &first_scratch);
                plan.extend(keep(g.finish()));
                sample_passes.push(plan);
            }
        }

        // SAMPa: a copy of the previous batch and a pass on it (its G_a) into grad1.
        let previous_batch = (kind == SamKind::Sampa).then(|| {
            let (previous, keep_current) = copy_rows(0, batch.rows);
            let (g, _) = pass_on(&previous, &grad1, train_mode(false), &first_scratch);
            PreviousBatch {
                keep_current,
                pass_into_grad1: keep(g.finish()),
            }
        });
        let optimizer = Optimizer::new(gpu, config.optimizer.clone(), len);
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
            sam_uniforms: &sam_uniform_view,
        };
        let metrics = |kernel: Kernel, bindings: &[&BufView]| {
            let mut plan = Plan::new();
            plan.push(gpu.dispatch(&kernel, bindings, [1, 1, 1]));
            plan
        };
        let metrics_plain = metrics(Kernel::new("metrics"), &[&stats1, &scalars, &train_metrics]);
        let metrics_sam = metrics(
            Kernel::new("metrics").define("SAM"),
            &[&stats1, &scalars, &train_metrics, &stats2],
        );
        let metrics_after_perturbed =
            metrics(Kernel::new("metrics"), &[&stats2, &scalars, &train_metrics]);
        let parts = StepParts {
            load_batch: &load_batch,
            pass_into: [&pass0, &pass1, &pass2],
            update_from_saved: &optimizer.update(
                &params,
                sam::update_gradient(&flat),
                Some(&saved),
            ),
            update_in_place_grad0: &optimizer.update(&params, &grad0, None),
            update_in_place_grad1: &optimizer.update(&params, &grad1, None),
            metrics_plain: &metrics_plain,
            metrics_sam: &metrics_sam,
            metrics_after_perturbed: &metrics_after_perturbed,
            weight_decay: config.optimizer.weight_decay as f32,
            sub_batches: &sub_batches,
            previous_batch: previous_batch.as_ref(),
            optimizer_uniforms: &optimizer_uniforms,
            sample_passes: &sample_passes,
            parameter_count: layout.parameter_count(),
        };
        let mut scratch = Vec::new();
        let plans = sam::build_steps(gpu, &config.sam, &flat, &parts, &mut scratch);
        let late_phase = config.sam.start_fraction.unwrap_or(0.0) > 0.0;
        let base_plan = late_phase.then(|| {
            sam::build_steps(gpu, &SamConfig::default(), &flat, &parts, &mut scratch).remove(0)
        });
        for view in scratch.iter().chain(&sub_views) {
            owned.keep(view);
        }
        let mut average_plan = Plan::new();
        average_plan.push(
            gpu.dispatch(
                &Kernel::new("sam_rules")
                    .define("SWA_UPDATE")
                    .constant("LEN", len as u32),
                &[&average, &params, &sam_uniform_view],
                crate::gpu::grid_1d(len),
            ),
        );
        StepEngine {
            average,
            average_plan,
            averaged: 0,
            params,
            grad0,
            grad1,
            sam_state: state.clone(),
            stats1,
            stats2,
            scalars,
            train_metrics,
            norm_state,
            dropout_step,
            seed: config.seed as u32,
            optimizer,
            plans,
            base_plan,
            steps: 0,
            passes: 0,
            sam_steps: 0,
            sam: config.sam.clone(),
            gpu: gpu.clone(),
            sam_uniforms,
            _graphs: graphs,
            _owned: owned,
        }
    }

    /// One step at learning rate `lr` and radius `rho` (the base optimizer alone when `use_sam` is
    /// false and a base plan exists): one command encoder, one submission.
    pub fn step(&mut self, lr: f64, rho: f64, use_sam: bool, average: bool) {
        let average_weight = if average {
            1.0 / (self.averaged + 1) as f32
        } else {
            0.0
        };
        let uniforms = SamUniforms {
            rho: rho as f32,
            first_step: (self.sam_steps == 0) as u32,
            average_weight,
            pad: 0.0,
        };
        self.gpu
            .queue
            .write_buffer(&self.sam_uniforms, 0, bytemuck::bytes_of(&uniforms));
        self.optimizer.prepare(lr);
        let step = [self.seed, self.steps as u32, 0, 0];
        self.gpu
            .queue
            .write_buffer(&self.dropout_step.buffer, 0, bytemuck::cast_slice(&step));
        let plan = match (&self.base_plan, use_sam) {
            (Some(base), false) => base,
            _ => {
                let plan = &self.plans[self.sam.plan_for_step(self.sam_steps)];
                self.sam_steps += 1;
                plan
            }
        };
        if average {
            self.gpu.submit(&[&plan.plan, &self.average_plan]);
            self.averaged += 1;
        } else {
            self.gpu.submit(&[&plan.plan]);
        }
        self.steps += 1;
        self.passes += plan.passes as u64;
    }

    /// Iterates folded into `average` so far.
    pub fn averaged(&self) -> u64 {
        self.averaged
    }

    /// Forward/backward passes per step so far (the engine's own count).
    pub fn passes_per_step(&self) -> f64 {
        if self.steps == 0 {
            self.sam.passes_per_step()
        } else {
            self.passes as f64 / self.steps as f64
        }
    }
}
