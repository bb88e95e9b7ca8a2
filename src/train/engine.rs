//! The static training step: flat buffers, the two forward/backward passes, the optimizer and the
//! SAM loop, built once into one plan that `step` submits. It reads its batch from buffers filled
//! by `load_batch` (a gather kernel in training, a host upload in the golden tests).

use std::sync::Arc;

use crate::autograd::{BuiltPlan, Graph};
use crate::data::Batch;
use crate::gpu::{BufView, Gpu, Kernel, OwnedBuffers, Plan};
use crate::nn::{bind_parameters, Mlp};
use crate::ops::cross_entropy;
use crate::optim::Optimizer;
use crate::sam::{self, FlatBuffers, SamKind, SamUniforms, StepParts};

use super::{TrainConfig, METRICS_LEN};

pub struct StepEngine {
    pub params: BufView,
    pub grad0: BufView,
    pub grad1: BufView,
    /// `[mean loss, correct, valid rows, non-finite rows]` of the pass at w …
    pub stats1: BufView,
    /// … and of the pass at w + ε (SAM modes).
    pub stats2: BufView,
    /// SAM's reductions: (‖T⊙g0‖², ‖g0‖², ·, ·), (⟨g0, g1⟩, ‖g1‖², ·, ·).
    pub scalars: BufView,
    /// The training-metrics accumulator (see shaders/metrics.wgsl).
    pub train_metrics: BufView,
    pub optimizer: Optimizer,
    pub plan: Plan,
    gpu: Arc<Gpu>,
    sam_uniforms: wgpu::Buffer,
    _graphs: Vec<BuiltPlan>,
    _owned: OwnedBuffers,
}

impl StepEngine {
    pub fn new(
        gpu: &Arc<Gpu>,
        model: &Mlp,
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
        let grad0 = alloc(len);
        let grad1 = alloc(len);
        let saved = alloc(len);
        let weight_mask = alloc(len);
        gpu.queue.write_buffer(
            &weight_mask.buffer,
            0,
            bytemuck::cast_slice(&layout.weight_mask()),
        );
        let scalars = alloc(sam::SCALARS_LEN);
        let train_metrics = alloc(METRICS_LEN);
        let sam_uniforms = gpu.alloc_uniform(16);
        owned.keep_buffer(&sam_uniforms);
        let sam_uniform_view = BufView {
            buffer: sam_uniforms.clone(),
            offset: 0,
            len: 4,
        };

        let smoothing = config.label_smoothing as f32;
        let mut graphs = Vec::new();
        let mut pass = |grads: &BufView| {
            let mut g = Graph::new(gpu);
            let x = g.input(batch.x.clone(), &[batch.rows, model.inputs()]);
            let tensors = bind_parameters(&mut g, layout, &params, grads);
            let logits = model.forward(&mut g, x, &tensors);
            let loss = cross_entropy(&mut g, logits, &batch.labels, smoothing);
            g.backward(loss.loss);
            let built = g.finish();
            let plan = built.plan.clone();
            graphs.push(built);
            (plan, loss.stats)
        };
        let (pass_into_grad0, stats1) = pass(&grad0);
        let (pass_into_grad1, stats2) = pass(&grad1);

        let flat = FlatBuffers {
            params: &params,
            grad0: &grad0,
            grad1: &grad1,
            saved: &saved,
            weight_mask: &weight_mask,
            scalars: &scalars,
            sam_uniforms: &sam_uniform_view,
        };
        let optimizer = Optimizer::new(
            gpu,
            config.optimizer.clone(),
            &params,
            sam::update_gradient(&config.sam, &flat),
            sam::restore_source(&config.sam, &flat),
        );
        let uses_sam = config.sam.kind != SamKind::None;
        let mut accumulate_metrics = Plan::new();
        let metrics_kernel = Kernel::new("metrics").define_if(uses_sam, "SAM");
        let mut metrics_bindings = vec![&stats1, &scalars, &train_metrics];
        if uses_sam {
            metrics_bindings.push(&stats2);
        }
        accumulate_metrics.push(gpu.dispatch(&metrics_kernel, &metrics_bindings, [1, 1, 1]));

        let mut scratch = Vec::new();
        let parts = StepParts {
            load_batch: &load_batch,
            pass_into_grad0: &pass_into_grad0,
            pass_into_grad1: &pass_into_grad1,
            optimizer_update: &optimizer.plan,
            accumulate_metrics: &accumulate_metrics,
        };
        let plan = sam::build_step(gpu, &config.sam, &flat, &parts, &mut scratch);
        for view in &scratch {
            owned.keep(view);
        }
        let engine = StepEngine {
            params,
            grad0,
            grad1,
            stats1,
            stats2,
            scalars,
            train_metrics,
            optimizer,
            plan,
            gpu: gpu.clone(),
            sam_uniforms,
            _graphs: graphs,
            _owned: owned,
        };
        engine.set_rho(config.sam.rho());
        engine
    }

    pub fn set_rho(&self, rho: f64) {
        let uniforms = SamUniforms {
            rho: rho as f32,
            pad: [0.0; 3],
        };
        self.gpu
            .queue
            .write_buffer(&self.sam_uniforms, 0, bytemuck::bytes_of(&uniforms));
    }

    /// One step at learning rate `lr`: one command encoder, one submission.
    pub fn step(&mut self, lr: f64) {
        self.optimizer.prepare(lr);
        self.gpu.submit(&[&self.plan]);
    }
}
