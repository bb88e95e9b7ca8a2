//! The static training step: flat buffers, the forward/backward passes, the optimizer and the SAM
//! loop, built once into one plan per kind of step that `step` submits. It reads its batch from
//! buffers filled by `load_batch` (a gather kernel in training, a host upload in golden tests).

use std::sync::Arc;

use crate::autograd::{BuiltPlan, Graph};
use crate::data::Batch;
use crate::gpu::{BufView, Gpu, Kernel, OwnedBuffers, Plan};
use crate::nn::{bind_parameters, ForwardContext, Model};
use crate::ops::{cross_entropy_with_rows, NormMode};
use crate::optim::Optimizer;
use crate::sam::{
    self, EsamParts, FlatBuffers, PreviousBatch, SamConfig, SamKind, SamUniforms, StepParts,
    StepPlan, SubBatch,
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
    /// Steps taken and forward/backward passes spent by this engine (a pass on part of the batch
    /// counts as its share).
    pub steps: u64,
    pub passes: f64,
    /// SAM steps in the whole run, when known (SSAM-D's drop rate decays over them).
    pub sam_steps_total: Option<u64>,
    /// SSAM-D's `[survivors, regrown]` for the step's refresh.
    counts: BufView,
    parameter_count: usize,
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
        let tensor_table = layout.tensor_table();
        let tensors = alloc(tensor_table.len());
        gpu.queue
            .write_buffer(&tensors.buffer, 0, bytemuck::cast_slice(&tensor_table));
        let counts = alloc(4);
        let kind = config.sam.kind;
        // R-SAM: every row of every tensor (a 1-D tensor is one row), for its filter-wise noise.
        let row_table = if kind == SamKind::Rsam {
            layout.row_table()
        } else {
            vec![0; 4]
        };
        let rows = alloc(row_table.len());
        gpu.queue
            .write_buffer(&rows.buffer, 0, bytemuck::cast_slice(&row_table));

        // ESAM ranks rows by how much their loss rose from w to w + ε.
        let esam = kind == SamKind::Esam;
        let loss_rows = if esam { batch.rows } else { 1 };
        let row_loss_at_w = alloc(loss_rows);
        let row_loss_perturbed = alloc(loss_rows);
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
        // `rows` receives each row's loss (ESAM); a pass without `backward` is a forward only.
        let pass_with = |batch: &Batch,
                         grads: &BufView,
                         mode: NormMode,
                         recycle: &[BufView],
                         rows: Option<&BufView>,
                         backward: bool| {
            let mut g = Graph::recycling(gpu, recycle.to_vec());
            let x = g.input(batch.x.clone(), &[batch.rows, model.inputs()]);
            let tensors = bind_parameters(&mut g, layout, &params, grads);
            let logits = model.forward(&mut g, x, &tensors, &context(mode));
            let loss = cross_entropy_with_rows(&mut g, logits, &batch.labels, smoothing, rows);
            if backward {
                g.backward(loss.loss);
            }
            (g, loss)
        };
        let pass_on = |batch: &Batch, grads: &BufView, mode: NormMode, recycle: &[BufView]| {
            pass_with(batch, grads, mode, recycle, None, true)
        };
        let mut keep = |built: BuiltPlan| {
            let plan = built.plan.clone();
            graphs.push(built);
            plan
        };
        // Only the passes this variant's plans use are built.
        let (first, stats1) = pass_with(
            batch,
            &grad0,
            train_mode(!one_pass_at_perturbed),
            &[],
            esam.then_some(&row_loss_at_w),
            true,
        );
        let first = first.finish();
        let first_scratch = first.scratch();
        let pass0 = keep(first);
        let mut pass = |grads: &BufView, mode: NormMode, rows: Option<&BufView>, backward: bool| {
            let (g, loss) = pass_with(batch, grads, mode, &first_scratch, rows, backward);
            (keep(g.finish()), loss.stats)
        };
        let (pass1, stats2) = if kind == SamKind::None {
            let unused = gpu.alloc(4); // bound by the SAM metrics kernel, never written
            owned.keep(&unused);
            (Plan::new(), unused)
        } else if esam {
            // ESAM's full-batch forward at w + ε: each row's loss, and L(w + ε) for the read-outs.
            pass(&grad1, train_mode(false), Some(&row_loss_perturbed), false)
        } else {
            pass(&grad1, train_mode(one_pass_at_perturbed), None, true)
        };
        let pass2 = if kind == SamKind::CrSam {
            pass(&grad2, train_mode(false), None, true).0
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

        // ESAM: the ⌊γ·B⌋ sharpest rows, gathered into a smaller batch, and the pass on them.
        let mut esam_views = Vec::new();
        let esam_parts = esam.then(|| {
            let share = config.sam.gamma();
            let chosen = ((share * batch.rows as f64).floor() as usize).max(1);
            let features = model.inputs();
            let sub = Batch {
                x: gpu.alloc(chosen * features),
                labels: gpu.alloc(chosen),
                rows: chosen,
            };
            let flags = gpu.alloc(batch.rows);
            let index = gpu.alloc(chosen);
            esam_views.extend([
                sub.x.clone(),
                sub.labels.clone(),
                flags.clone(),
                index.clone(),
            ]);
            let kernel = |variant: &'static str| {
                Kernel::new("row_select")
                    .define(variant)
                    .constant("ROWS", batch.rows as u32)
                    .constant("KK", chosen as u32)
                    .constant("CLASSES", model.classes() as u32)
                    .constant("FEATURES", features as u32)
            };
            let mut select = Plan::new();
            select.push(gpu.dispatch(
                &kernel("SELECT"),
                &[
                    &row_loss_at_w,
                    &row_loss_perturbed,
                    &batch.labels,
                    &flags,
                    &index,
                ],
                [1, 1, 1],
            ));
            select.push(gpu.dispatch(
                &kernel("GATHER"),
                &[&batch.x, &batch.labels, &index, &sub.x, &sub.labels],
                crate::gpu::grid_1d(chosen * features),
            ));
            let (g, _) = pass_on(&sub, &grad1, train_mode(false), &first_scratch);
            EsamParts {
                select,
                subset_pass: keep(g.finish()),
                share: chosen as f64 / batch.rows as f64,
            }
        });

        // μP²: the layer weights m^(−d_l) of the norm into `direction`, the layer scales
        // m^(½−d_l) of ε into `state` (see SamKind::Mup2).
        if kind == SamKind::Mup2 {
            let (weights, scales) = mup2_layer_factors(layout, config.sam.base_width());
            gpu.queue
                .write_buffer(&direction.buffer, 0, bytemuck::cast_slice(&weights));
            gpu.queue
                .write_buffer(&state.buffer, 0, bytemuck::cast_slice(&scales));
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
            tensor_table: &tensors,
            tensor_count: layout.specs.len(),
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
            seed: config.seed as u32,
            counts: &counts,
            row_table: (kind == SamKind::Rsam).then_some((&rows, row_table.len() / 4)),
            esam: esam_parts.as_ref(),
        };
        let mut scratch = Vec::new();
        let plans = sam::build_steps(gpu, &config.sam, &flat, &parts, &mut scratch);
        let late_phase = config.sam.start_fraction.unwrap_or(0.0) > 0.0;
        let base_plan = late_phase.then(|| {
            sam::build_steps(gpu, &SamConfig::default(), &flat, &parts, &mut scratch).remove(0)
        });
        for view in scratch.iter().chain(&sub_views).chain(&esam_views) {
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
            passes: 0.0,
            sam_steps_total: None,
            counts,
            parameter_count: layout.parameter_count(),
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
            sam_step: self.sam_steps as u32,
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
                let which = self.sam.plan_for_step(self.sam_steps);
                if self.sam.kind == SamKind::SsamD && which < 2 {
                    let counts = self.sam.ssamd_counts(
                        self.parameter_count,
                        self.sam_steps,
                        self.sam_steps_total,
                    );
                    self.gpu.queue.write_buffer(
                        &self.counts.buffer,
                        0,
                        bytemuck::cast_slice(&counts),
                    );
                }
                let plan = &self.plans[which];
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
        self.passes += plan.passes;
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
            self.passes / self.steps as f64
        }
    }
}

/// μP²'s per-element factors (Haas et al. 2024, as docs/sam-variants.md derives them): with
/// m = width/base width (width = the first layer's outputs) and exponents d_l = −½ for the first
/// layer's weight and every 1-D tensor (input-like), +3/2 for the last weight (output-like) and
/// +½ for the weights between (hidden), the norm weights m^(−d_l) and the ε scales m^(½−d_l).
pub fn mup2_layer_factors(
    layout: &crate::nn::ParamLayout,
    base_width: u32,
) -> (Vec<f32>, Vec<f32>) {
    let matrices: Vec<usize> = (0..layout.specs.len())
        .filter(|&i| layout.specs[i].shape.len() >= 2)
        .collect();
    let width = matrices
        .first()
        .map_or(base_width as usize, |&i| layout.specs[i].shape[0]);
    let m = width as f64 / base_width as f64;
    let mut weights = vec![0.0f32; layout.total_len];
    let mut scales = vec![0.0f32; layout.total_len];
    for (i, spec) in layout.specs.iter().enumerate() {
        let exponent = if spec.shape.len() < 2 || Some(&i) == matrices.first() {
            -0.5
        } else if Some(&i) == matrices.last() {
            1.5
        } else {
            0.5
        };
        let range = spec.offset..spec.offset + spec.len();
        weights[range.clone()].fill(crate::host_math::pow(m, -exponent) as f32);
        scales[range].fill(crate::host_math::pow(m, 0.5 - exponent) as f32);
    }
    (weights, scales)
}
