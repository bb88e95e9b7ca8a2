//! Base optimizers as one GPU dispatch over the flat parameter vector (PyTorch semantics), and
//! learning-rate schedules computed on the host each step.

mod schedule;

pub use schedule::Schedule;

use std::sync::Arc;

use crate::gpu::{grid_1d, BufView, Gpu, Kernel, Plan};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
    AdamW,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    pub lr: f64,
    /// SGD momentum μ (0 = plain SGD). PyTorch: the buffer starts at the first gradient.
    pub momentum: f64,
    pub nesterov: bool,
    /// Coupled L2 for SGD and Adam, decoupled for AdamW.
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl OptimizerConfig {
    /// Rejects values PyTorch would reject, with a message naming the setting and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(format!("{name} must be a finite number, got {v}"))
            }
        };
        for (name, v) in [
            ("lr", self.lr),
            ("momentum", self.momentum),
            ("weight_decay", self.weight_decay),
        ] {
            finite(name, v)?;
        }
        if self.lr <= 0.0 {
            return Err(format!(
                "lr must be > 0, got {} (try 0.05 for SGD or 0.001 for Adam)",
                self.lr
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        if self.nesterov && (self.kind != OptimizerKind::Sgd || self.momentum == 0.0) {
            return Err("nesterov needs the sgd optimizer with momentum > 0".into());
        }
        if self.weight_decay < 0.0 {
            return Err(format!(
                "weight_decay must be ≥ 0, got {}",
                self.weight_decay
            ));
        }
        for (name, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return Err(format!("{name} must be in [0, 1), got {v}"));
            }
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(format!("eps must be > 0, got {}", self.eps));
        }
        Ok(())
    }
}

/// The uniform block of `shaders/optimizer.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct OptimizerUniforms {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    nesterov: u32,
    first_step: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    step_size: f32,
    bias_correction2_sqrt: f32,
    pad: [f32; 2],
}

/// Owns the optimizer state buffers (momentum, or Adam's two moments) in the flat layout and
/// records the one-dispatch update `w ← opt(w, G)`.
pub struct Optimizer {
    pub config: OptimizerConfig,
    /// Updates taken so far (Adam's t after the next `prepare` is steps + 1).
    pub steps: u64,
    gpu: Arc<Gpu>,
    uniforms: wgpu::Buffer,
    state: Vec<BufView>,
}

impl Optimizer {
    /// An optimizer with state for a flat parameter vector of `len` elements. Its updates are
    /// recorded with `update`.
    pub fn new(gpu: &Arc<Gpu>, config: OptimizerConfig, len: usize) -> Self {
        let uniforms = gpu.alloc_uniform(std::mem::size_of::<OptimizerUniforms>() as u64);
        let moments = if config.kind == OptimizerKind::Sgd {
            1
        } else {
            2
        };
        let state = (0..moments).map(|_| gpu.alloc(len)).collect();
        Optimizer {
            config,
            steps: 0,
            gpu: gpu.clone(),
            uniforms,
            state,
        }
    }

    /// The uniform block this step's update reads (lr, momentum, weight decay, first step, …).
    pub fn uniforms_view(&self) -> BufView {
        BufView {
            buffer: self.uniforms.clone(),
            offset: 0,
            len: std::mem::size_of::<OptimizerUniforms>() / 4,
        }
    }

    /// The momentum buffer (SGD) or first moment (Adam), in the flat layout.
    pub fn momentum(&self) -> &BufView {
        &self.state[0]
    }

    /// One dispatch: `params ← opt(params, grads)`, or with `restore_from` (SAM's saved weights)
    /// `params ← opt(restore_from, grads)`, which fuses the exact restore into the update.
    pub fn update(
        &self,
        params: &BufView,
        grads: &BufView,
        restore_from: Option<&BufView>,
    ) -> Plan {
        let len = params.len;
        let uniform_view = BufView {
            buffer: self.uniforms.clone(),
            offset: 0,
            len: std::mem::size_of::<OptimizerUniforms>() / 4,
        };
        let kernel = match self.config.kind {
            OptimizerKind::Sgd => Kernel::new("optimizer").define("SGD"),
            OptimizerKind::Adam => Kernel::new("optimizer"),
            OptimizerKind::AdamW => Kernel::new("optimizer").define("ADAMW"),
        }
        .define_if(restore_from.is_some(), "FROM_SAVED")
        .constant("LEN", len as u32);
        let mut bindings: Vec<&BufView> = vec![params, grads, &uniform_view];
        bindings.extend(self.state.iter());
        bindings.extend(restore_from);
        let mut plan = Plan::new();
        plan.push(self.gpu.dispatch(&kernel, &bindings, grid_1d(len)));
        plan
    }

    /// Writes this step's hyperparameters (learning rate `lr`, step count, bias corrections) for
    /// the next submission of `plan`, and counts the step.
    pub fn prepare(&mut self, lr: f64) {
        self.steps += 1;
        let c = &self.config;
        let t = self.steps as f64;
        let bias_correction1 = 1.0 - crate::host_math::pow(c.beta1, t);
        let bias_correction2 = 1.0 - crate::host_math::pow(c.beta2, t);
        let uniforms = OptimizerUniforms {
            lr: lr as f32,
            momentum: c.momentum as f32,
            weight_decay: c.weight_decay as f32,
            nesterov: c.nesterov as u32,
            first_step: (self.steps == 1) as u32,
            beta1: c.beta1 as f32,
            beta2: c.beta2 as f32,
            eps: c.eps as f32,
            step_size: (lr / bias_correction1) as f32,
            bias_correction2_sqrt: bias_correction2.sqrt() as f32,
            pad: [0.0; 2],
        };
        self.gpu
            .queue
            .write_buffer(&self.uniforms, 0, bytemuck::bytes_of(&uniforms));
    }

    /// Forgets momentum and moments (a fresh optimizer on the same parameters).
    pub fn reset_state(&mut self) {
        self.steps = 0;
        for view in &self.state {
            self.gpu.queue.write_buffer(
                &view.buffer,
                view.offset,
                &vec![0u8; view.bytes() as usize],
            );
        }
    }
}

impl Drop for Optimizer {
    fn drop(&mut self) {
        self.gpu.release(self.uniforms.clone());
        for view in self.state.drain(..) {
            self.gpu.release(view.buffer);
        }
    }
}
