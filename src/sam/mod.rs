//! The SAM family on one perturb/restore loop (docs: ../shared/docs/sam-algorithms.md §1):
//!
//! ```text
//! d  = DIR(w, B)                           g0 = ∇L_B(w), one forward/backward
//! ε  = ρ · T² ⊙ d / (‖T ⊙ d‖ + ξ)          T = 1 (SAM) or |w| (+η) (ASAM)
//! saved = w; w += ε                        fused in one kernel
//! g1 = ∇L_B(w)                             second forward/backward
//! G  = COMBINE(g1, g0)                     identity for SAM and ASAM
//! w  = saved                               restore by copy: exact, no f32 drift
//! opt.step(w, G)
//! ```
//!
//! The last two lines run as one kernel: the optimizer update reads `saved` and writes w, so the
//! restore is still an exact copy (never w − ε) without a separate pass over memory.
//!
//! `build_step` owns that order; a variant is a `Perturbation` (the T of ε) plus a direction and a
//! combine rule, so later variants add cases here instead of copying the loop.

use std::sync::Arc;

use crate::gpu::{grid_1d, BufView, Gpu, Kernel, Plan};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamKind {
    /// The base optimizer alone.
    None,
    /// Foret et al. 2021 (davda54/sam semantics).
    Sam,
    /// Kwon et al. 2021, official form: T = |w| + η on weight tensors, 1 on biases.
    Asam,
    /// davda54/sam `adaptive=True`: T = |w| on every tensor, no η.
    AsamDavda54,
}

impl SamKind {
    pub fn parse(text: &str) -> Result<SamKind, String> {
        match text {
            "none" => Ok(SamKind::None),
            "sam" => Ok(SamKind::Sam),
            "asam" => Ok(SamKind::Asam),
            "asam-davda54" => Ok(SamKind::AsamDavda54),
            other => Err(format!(
                "unknown SAM mode {other:?}: use none, sam, asam or asam-davda54"
            )),
        }
    }

    /// The reference default ρ of each form (they live on different scales).
    pub fn default_rho(self) -> f64 {
        match self {
            SamKind::None => 0.0,
            SamKind::Sam => 0.05,
            SamKind::Asam => 0.5,
            SamKind::AsamDavda54 => 2.0,
        }
    }

    /// Forward/backward passes per training step.
    pub fn passes_per_step(self) -> u32 {
        if self == SamKind::None {
            1
        } else {
            2
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamConfig {
    pub kind: SamKind,
    /// Radius of the neighbourhood; `None` takes the kind's reference default.
    #[serde(default)]
    pub rho: Option<f64>,
    /// ASAM's η (official form only); default 0.01.
    #[serde(default)]
    pub eta: Option<f64>,
}

impl Default for SamConfig {
    fn default() -> Self {
        SamConfig {
            kind: SamKind::None,
            rho: None,
            eta: None,
        }
    }
}

impl SamConfig {
    pub fn rho(&self) -> f64 {
        self.rho.unwrap_or(self.kind.default_rho())
    }

    pub fn eta(&self) -> f64 {
        self.eta.unwrap_or(0.01)
    }

    pub fn validate(&self) -> Result<(), String> {
        let rho = self.rho();
        if !(rho.is_finite() && rho >= 0.0) {
            return Err(format!("rho must be a finite number ≥ 0, got {rho} (SAM usually uses 0.01–0.1, ASAM 0.5–2)"));
        }
        let eta = self.eta();
        if !(eta.is_finite() && eta >= 0.0) {
            return Err(format!(
                "eta must be a finite number ≥ 0, got {eta} (ASAM's default is 0.01)"
            ));
        }
        Ok(())
    }

    fn perturbation(&self) -> Option<Perturbation> {
        match self.kind {
            SamKind::None => None,
            SamKind::Sam => Some(Perturbation {
                adaptive: None,
                xi: 1e-12,
            }),
            SamKind::Asam => Some(Perturbation {
                adaptive: Some((self.eta() as f32, true)),
                xi: 1e-16,
            }),
            SamKind::AsamDavda54 => Some(Perturbation {
                adaptive: Some((0.0, false)),
                xi: 1e-12,
            }),
        }
    }
}

/// How ε is scaled: `adaptive` = Some((η, weights_only)) for ASAM's T = |w| + η; ξ guards ‖·‖ = 0
/// (then ε = 0, never NaN).
#[derive(Clone, Copy, Debug)]
struct Perturbation {
    adaptive: Option<(f32, bool)>,
    xi: f32,
}

/// Slots (vec4 each) in the small `scalars` buffer the SAM kernels share.
const NORMS_SLOT: u32 = 0; // (‖T⊙g0‖², ‖g0‖², ·, ·)
const DOTS_SLOT: u32 = 1; // (⟨g0, g1⟩, ‖g1‖², ·, ·)
pub const SCALARS_LEN: usize = 8;

/// Elements per workgroup in the first level of flat reductions.
const CHUNK: usize = 4096;

/// The flat buffers one training step works on (all in the parameter layout).
pub struct FlatBuffers<'a> {
    pub params: &'a BufView,
    pub grad0: &'a BufView,
    pub grad1: &'a BufView,
    pub saved: &'a BufView,
    pub weight_mask: &'a BufView,
    pub scalars: &'a BufView,
    pub sam_uniforms: &'a BufView,
}

/// The pieces `build_step` orders: each is a pre-built plan.
pub struct StepParts<'a> {
    pub load_batch: &'a Plan,
    /// Forward + backward at the current weights, gradient into `grad0`.
    pub pass_into_grad0: &'a Plan,
    /// The same into `grad1`.
    pub pass_into_grad1: &'a Plan,
    /// The base optimizer's update, reading G from `update_gradient` and starting from
    /// `restore_source`.
    pub optimizer_update: &'a Plan,
    pub accumulate_metrics: &'a Plan,
}

/// The uniform block of `shaders/sam_perturb.wgsl` (ρ may change between steps).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SamUniforms {
    pub rho: f32,
    pub pad: [f32; 3],
}

/// Records one training step in the loop's order. `scratch` receives the partial-sum buffers.
pub fn build_step(
    gpu: &Arc<Gpu>,
    config: &SamConfig,
    flat: &FlatBuffers,
    parts: &StepParts,
    scratch: &mut Vec<BufView>,
) -> Plan {
    let mut plan = Plan::new();
    plan.extend(parts.load_batch.clone());
    plan.extend(parts.pass_into_grad0.clone()); // DIR: d = g0
    let perturbation = config.perturbation();
    plan.extend(norms(gpu, flat, perturbation, scratch));
    match perturbation {
        None => plan.extend(parts.optimizer_update.clone()),
        Some(rule) => {
            plan.push(perturb(gpu, flat, rule));
            plan.extend(parts.pass_into_grad1.clone());
            plan.extend(dots(
                gpu,
                flat.grad0,
                flat.grad1,
                flat.scalars,
                DOTS_SLOT,
                scratch,
            ));
            // COMBINE: G = g1; restore fused into the update (w ← opt(saved, G), see restore_source).
            plan.extend(parts.optimizer_update.clone());
        }
    }
    plan.extend(parts.accumulate_metrics.clone());
    plan
}

/// The buffer holding G, the gradient the base optimizer steps with: g0 without SAM, the
/// combined gradient (g1 for SAM and ASAM) otherwise.
pub fn update_gradient<'a>(config: &SamConfig, flat: &FlatBuffers<'a>) -> &'a BufView {
    match config.kind {
        SamKind::None => flat.grad0,
        _ => flat.grad1,
    }
}

/// Where the base optimizer's update starts from: SAM modes restore w from `saved` inside the
/// update kernel (an exact copy fused with the step); the base optimizer alone starts from w.
pub fn restore_source<'a>(config: &SamConfig, flat: &FlatBuffers<'a>) -> Option<&'a BufView> {
    match config.kind {
        SamKind::None => None,
        _ => Some(flat.saved),
    }
}

/// ‖T⊙g0‖² and ‖g0‖² into scalars[NORMS_SLOT].
fn norms(
    gpu: &Arc<Gpu>,
    flat: &FlatBuffers,
    perturbation: Option<Perturbation>,
    scratch: &mut Vec<BufView>,
) -> Plan {
    let len = flat.grad0.len;
    let groups = len.div_ceil(CHUNK).max(1);
    let partials = gpu.alloc(groups * 4);
    let mut kernel = Kernel::new("flat_reduce")
        .define("NORMS")
        .constant("LEN", len as u32)
        .constant("CHUNK", CHUNK as u32);
    let mut bindings = vec![flat.grad0, &partials];
    if let Some(Perturbation {
        adaptive: Some((eta, weights_only)),
        ..
    }) = perturbation
    {
        kernel = kernel
            .define("ADAPTIVE")
            .constant("ETA", eta)
            .constant("WEIGHTS_ONLY", weights_only as u32);
        bindings.extend([flat.params, flat.weight_mask]);
    }
    let mut plan = Plan::new();
    plan.push(gpu.dispatch(&kernel, &bindings, [groups as u32, 1, 1]));
    plan.push(final_sum(gpu, &partials, groups, flat.scalars, NORMS_SLOT));
    scratch.push(partials);
    plan
}

/// ⟨a, b⟩ and ‖b‖² into scalars[slot].
fn dots(
    gpu: &Arc<Gpu>,
    a: &BufView,
    b: &BufView,
    scalars: &BufView,
    slot: u32,
    scratch: &mut Vec<BufView>,
) -> Plan {
    let groups = a.len.div_ceil(CHUNK).max(1);
    let partials = gpu.alloc(groups * 4);
    let kernel = Kernel::new("flat_reduce")
        .define("DOTS")
        .constant("LEN", a.len as u32)
        .constant("CHUNK", CHUNK as u32);
    let mut plan = Plan::new();
    plan.push(gpu.dispatch(&kernel, &[a, b, &partials], [groups as u32, 1, 1]));
    plan.push(final_sum(gpu, &partials, groups, scalars, slot));
    scratch.push(partials);
    plan
}

fn final_sum(
    gpu: &Arc<Gpu>,
    partials: &BufView,
    groups: usize,
    scalars: &BufView,
    slot: u32,
) -> crate::gpu::Command {
    let kernel = Kernel::new("flat_reduce")
        .define("FINAL")
        .constant("LEN", groups as u32)
        .constant("SLOT", slot);
    gpu.dispatch(&kernel, &[partials, scalars], [1, 1, 1])
}

/// saved = w; w += ε (d = g0).
fn perturb(gpu: &Arc<Gpu>, flat: &FlatBuffers, rule: Perturbation) -> crate::gpu::Command {
    let len = flat.params.len;
    let mut kernel = Kernel::new("sam_perturb")
        .constant("LEN", len as u32)
        .constant("XI", rule.xi)
        .constant("NORM_SLOT", NORMS_SLOT);
    let mut bindings = vec![
        flat.params,
        flat.saved,
        flat.grad0,
        flat.scalars,
        flat.sam_uniforms,
    ];
    if let Some((eta, weights_only)) = rule.adaptive {
        kernel = kernel
            .define("ADAPTIVE")
            .constant("ETA", eta)
            .constant("WEIGHTS_ONLY", weights_only as u32);
        bindings.push(flat.weight_mask);
    }
    gpu.dispatch(&kernel, &bindings, grid_1d(len))
}
