//! The SAM family on one perturb/restore loop (../shared/docs/sam-algorithms.md §1, exact rules
//! in docs/sam-variants.md):
//!
//! ```text
//! d  = DIR(w, B, S)                        g0 (one forward/backward), F-SAM's g0 − σ·m, S2-SAM's g̃
//! ε  = ρ · T² ⊙ d / (‖T ⊙ d‖ + ξ)          T = 1 (SAM), |w| (+η) (ASAM); ρ·sign(d) for p = ∞
//! saved = w; w += ε                        fused in one kernel
//! g1 = ∇L_B(w)                             second forward/backward (CR-SAM adds w − ε)
//! G  = COMBINE(g1, g0, S)                  identity, GSAM's surrogate gap, CR-SAM, LookSAM
//! w  = saved                               restore by copy: exact, no f32 drift
//! opt.step(w, G)
//! ```
//!
//! The last two lines run as one kernel: the optimizer update reads `saved` and writes w, so the
//! restore is still an exact copy (never w − ε) without a separate pass over memory.
//!
//! `build_steps` owns that order. A variant is a choice of direction, scale and combine rule plus
//! its state, so adding one adds cases here, never a second loop. Variants whose steps differ
//! (LookSAM's refresh and reuse steps) get one plan per kind of step; `plan_for_step` picks.

use std::sync::Arc;

use crate::gpu::{grid_1d, BufView, Gpu, Kernel, Plan};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamKind {
    /// The base optimizer alone.
    #[default]
    None,
    /// Foret et al. 2021 (davda54/sam semantics).
    Sam,
    /// Kwon et al. 2021, official form: T = |w| + η on weight tensors, 1 on biases.
    Asam,
    /// davda54/sam `adaptive=True`: T = |w| on every tensor, no η.
    AsamDavda54,
    /// Zhuang et al. 2022: surrogate-gap guided SAM (α; ρ may follow the learning rate).
    Gsam,
    /// Li et al. 2024: friendly SAM, ascent along g0 minus an EMA of past gradients (σ, λ).
    Fsam,
    /// Liu et al. 2022: a SAM step every k steps, reuse of its orthogonal component between (k, α).
    LookSam,
    /// Ji et al. 2024: one pass per step, ascent along the previous step's perturbed gradient.
    S2Sam,
    /// Wu et al. 2024: curvature-regularised SAM, gradients at w ± ε (γ, β).
    CrSam,
    /// SAM in the p = ∞ ball: ε = ρ·sign(g0).
    SamLinf,
    /// Becker et al. 2024: momentum-SAM, one pass per step at w − ρ·v/‖v‖ (SGD momentum v).
    Msam,
    /// n steps of projected normalised ascent inside the ρ-ball (n, step size α = ρ).
    NStep,
    /// m-sharpness (Foret et al. 2021 §4): an ε per sub-batch of m rows, G = mean of their g1.
    MSharp,
    /// Xie et al. 2024: SAMPa, two independent gradients per step (at x + ε on the previous batch
    /// and at a look-ahead point y on the current one), G = (1−λ)·G_a + λ·g_y'.
    Sampa,
    /// Mi et al. 2022: sparse SAM, ε only on the parameters with the largest Fisher information
    /// (Σ of per-sample g² over a few samples), the mask refreshed every k steps (s, N_s, k).
    Ssam,
    /// Mi et al. 2022: sparse SAM with a dynamic mask: random at first, then every k steps the live
    /// parameters with the smallest |g0| die and as many dead ones regrow at random (s, dr, k).
    SsamD,
    /// Du et al. 2022: efficient SAM, ε on a random subset of tensors (each kept with probability
    /// β, scaled by 1/β) and g1 on the γ share of the batch whose loss rose most (β, γ).
    Esam,
    /// Liu et al. 2022: random SAM, the ascent taken from a filter-wise Gaussian random start
    /// δ0: ε = ρ·(λ·∇L(w+δ0) + δ0)/‖·‖ (σ, λ).
    Rsam,
    /// Haas et al. 2024: μP² layer-wise perturbation scaling, ε_l = ρ·m^(½−d_l)·g_l/‖(m^(−d_l)·g_l)_l‖
    /// with m = width/base width (d_l = −½ input-like, +½ hidden, +3/2 output layers).
    Mup2,
}

/// (CLI/JS name, kind, reference default ρ, forward/backward passes per step as a text).
const KINDS: &[(&str, SamKind, f64)] = &[
    ("none", SamKind::None, 0.0),
    ("sam", SamKind::Sam, 0.05),
    ("asam", SamKind::Asam, 0.5),
    ("asam-davda54", SamKind::AsamDavda54, 2.0),
    ("gsam", SamKind::Gsam, 0.05),
    ("fsam", SamKind::Fsam, 0.1),
    ("looksam", SamKind::LookSam, 0.3),
    ("s2sam", SamKind::S2Sam, 0.05),
    ("crsam", SamKind::CrSam, 0.1),
    ("sam-linf", SamKind::SamLinf, 0.005),
    ("msam", SamKind::Msam, 0.3),
    ("nstep", SamKind::NStep, 0.05),
    ("msharp", SamKind::MSharp, 0.05),
    ("sampa", SamKind::Sampa, 0.1),
    ("ssam", SamKind::Ssam, 0.05),
    ("ssam-d", SamKind::SsamD, 0.05),
    ("esam", SamKind::Esam, 0.05),
    ("rsam", SamKind::Rsam, 0.05),
    ("mup2", SamKind::Mup2, 0.05),
];

impl SamKind {
    pub fn parse(text: &str) -> Result<SamKind, String> {
        KINDS
            .iter()
            .find(|(name, _, _)| *name == text)
            .map(|&(_, kind, _)| kind)
            .ok_or_else(|| {
                let names: Vec<&str> = KINDS.iter().map(|(name, _, _)| *name).collect();
                format!("unknown SAM mode {text:?}: use {}", names.join(", "))
            })
    }

    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, kind, _)| *kind == self)
            .map(|(name, _, _)| *name)
            .unwrap_or("?")
    }

    /// The reference default ρ of each form (they live on different scales).
    pub fn default_rho(self) -> f64 {
        KINDS
            .iter()
            .find(|(_, kind, _)| *kind == self)
            .map(|(_, _, rho)| *rho)
            .unwrap_or(0.0)
    }
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamConfig {
    pub kind: SamKind,
    /// Radius of the neighbourhood; `None` takes the kind's reference default.
    #[serde(default)]
    pub rho: Option<f64>,
    /// ASAM's η (official form only); default 0.01.
    #[serde(default)]
    pub eta: Option<f64>,
    /// GSAM's α (default 0.2) and LookSAM's α (default 0.2).
    #[serde(default)]
    pub alpha: Option<f64>,
    /// F-SAM's σ (default 1) and λ (default 0.95).
    #[serde(default)]
    pub sigma: Option<f64>,
    #[serde(default)]
    pub lambda: Option<f64>,
    /// LookSAM's refresh period k (default 5).
    #[serde(default)]
    pub k: Option<u32>,
    /// CR-SAM's γ (default 0.1) and β (default 0.01).
    #[serde(default)]
    pub gamma: Option<f64>,
    #[serde(default)]
    pub beta: Option<f64>,
    /// How ρ changes over the run (default constant; GSAM: tied to the learning rate).
    #[serde(default)]
    pub rho_schedule: Option<RhoSchedule>,
    /// Late-phase SAM: train with the base optimizer alone until this fraction of the run, then
    /// switch to the SAM rule with fresh base-optimizer state (Zhou et al. 2025). Default 0.
    #[serde(default)]
    pub start_fraction: Option<f64>,
    /// n-step ascent: number of ascent steps (default 2; n = 1 is SAM).
    #[serde(default)]
    pub n: Option<u32>,
    /// m-sharpness: rows per sub-batch (default 32; must divide the batch size; m = batch is SAM).
    #[serde(default)]
    pub m: Option<u32>,
    /// GSAM's ρ at the smallest learning rate (ρ follows lr linearly); default: ρ (constant).
    #[serde(default)]
    pub rho_min: Option<f64>,
    /// SSAM's sparsity s: the share of parameters left unperturbed (default 0.5).
    #[serde(default)]
    pub sparsity: Option<f64>,
    /// SSAM's N_s: samples (the first rows of the batch) whose squared gradients make the Fisher
    /// information (default 16).
    #[serde(default)]
    pub fisher_samples: Option<u32>,
    /// SSAM-D's drop rate dr0 (default 0.5): the share of live parameters that die at a refresh,
    /// decaying as dr0·(1 + cos(π·t/T))/2 over the run.
    #[serde(default)]
    pub drop_rate: Option<f64>,
    /// μP²'s base width: the width at which ρ was tuned (default 64); m = width/base width.
    #[serde(default)]
    pub base_width: Option<u32>,
}

impl SamConfig {
    pub fn new(kind: SamKind) -> Self {
        SamConfig {
            kind,
            ..SamConfig::default()
        }
    }

    pub fn rho(&self) -> f64 {
        self.rho.unwrap_or(self.kind.default_rho())
    }
    pub fn eta(&self) -> f64 {
        self.eta.unwrap_or(0.01)
    }
    /// GSAM's and LookSAM's α (default 0.2); n-step's ascent step size (default ρ).
    pub fn alpha(&self) -> f64 {
        match self.kind {
            SamKind::NStep => self.alpha.unwrap_or(self.rho()),
            _ => self.alpha.unwrap_or(0.2),
        }
    }
    pub fn m(&self) -> u32 {
        self.m.unwrap_or(32)
    }
    pub fn n(&self) -> u32 {
        self.n.unwrap_or(2)
    }
    /// F-SAM's σ (default 1); R-SAM's noise scale (default 0.001, relative to each row's norm).
    pub fn sigma(&self) -> f64 {
        match self.kind {
            SamKind::Rsam => self.sigma.unwrap_or(0.001),
            _ => self.sigma.unwrap_or(1.0),
        }
    }
    /// F-SAM's EMA decay (default 0.95); SAMPa's weight of the look-ahead gradient (default 0.2);
    /// R-SAM's gradient step from the random start (default 2, the reference's constant).
    pub fn lambda(&self) -> f64 {
        match self.kind {
            SamKind::Sampa => self.lambda.unwrap_or(0.2),
            SamKind::Rsam => self.lambda.unwrap_or(2.0),
            _ => self.lambda.unwrap_or(0.95),
        }
    }
    pub fn drop_rate(&self) -> f64 {
        self.drop_rate.unwrap_or(0.5)
    }
    pub fn base_width(&self) -> u32 {
        self.base_width.unwrap_or(64)
    }
    /// LookSAM's refresh period (default 5); SSAM's mask refresh period (default 100 steps).
    pub fn k(&self) -> u32 {
        match self.kind {
            SamKind::Ssam | SamKind::SsamD => self.k.unwrap_or(100),
            _ => self.k.unwrap_or(5),
        }
    }
    pub fn sparsity(&self) -> f64 {
        self.sparsity.unwrap_or(0.5)
    }
    pub fn fisher_samples(&self) -> u32 {
        self.fisher_samples.unwrap_or(16)
    }
    /// CR-SAM's γ (default 0.1); ESAM's share of the batch in the second pass (default 0.5).
    pub fn gamma(&self) -> f64 {
        match self.kind {
            SamKind::Esam => self.gamma.unwrap_or(0.5),
            _ => self.gamma.unwrap_or(0.1),
        }
    }
    /// CR-SAM's β (default 0.01); ESAM's probability of perturbing a tensor (default 0.5).
    pub fn beta(&self) -> f64 {
        match self.kind {
            SamKind::Esam => self.beta.unwrap_or(0.5),
            _ => self.beta.unwrap_or(0.01),
        }
    }
    pub fn rho_min(&self) -> f64 {
        self.rho_min.unwrap_or(self.rho())
    }

    pub fn validate(&self) -> Result<(), String> {
        let rho = self.rho();
        if !(rho.is_finite() && rho >= 0.0) {
            return Err(format!(
                "rho must be a finite number ≥ 0, got {rho} (SAM usually uses 0.01–0.1, ASAM 0.5–2)"
            ));
        }
        for (name, value) in [
            ("eta", self.eta()),
            ("alpha", self.alpha()),
            ("sigma", self.sigma()),
            ("gamma", self.gamma()),
            ("beta", self.beta()),
            ("rho_min", self.rho_min()),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!("{name} must be a finite number ≥ 0, got {value}"));
            }
        }
        let lambda = self.lambda();
        if self.kind == SamKind::Rsam {
            if !(lambda.is_finite() && lambda >= 0.0) {
                return Err(format!(
                    "lambda must be a finite number ≥ 0, got {lambda} (R-SAM's default is 2)"
                ));
            }
        } else if !(lambda.is_finite() && (0.0..=1.0).contains(&lambda)) {
            return Err(format!(
                "lambda must be in [0, 1], got {lambda} (F-SAM's default is 0.95)"
            ));
        }
        if self.kind == SamKind::Esam {
            for (name, value, default) in [("beta", self.beta(), 0.5), ("gamma", self.gamma(), 0.5)]
            {
                if !(value.is_finite() && value > 0.0 && value <= 1.0) {
                    return Err(format!(
                        "{name} must be in (0, 1], got {value} (ESAM's default is {default}; 1 is SAM)"
                    ));
                }
            }
        }
        let drop_rate = self.drop_rate();
        if !(drop_rate.is_finite() && (0.0..=1.0).contains(&drop_rate)) {
            return Err(format!(
                "drop_rate must be in [0, 1], got {drop_rate} (SSAM-D's default is 0.5)"
            ));
        }
        if self.base_width() == 0 {
            return Err("base_width must be ≥ 1 (μP²'s default is 64)".into());
        }
        if let Some(fraction) = self.start_fraction {
            if !(fraction.is_finite() && (0.0..1.0).contains(&fraction)) {
                return Err(format!("start_fraction must be in [0, 1), got {fraction} (late-phase SAM often starts at 0.5–0.8)"));
            }
        }
        if self.m() == 0 {
            return Err("m must be ≥ 1 (rows per m-sharpness sub-batch)".into());
        }
        if self.n() == 0 {
            return Err("n must be ≥ 1 (the number of ascent steps; 1 is plain SAM)".into());
        }
        if self.k() == 0 {
            return Err("k must be ≥ 1 (LookSAM refreshes every k steps; 5 is the default)".into());
        }
        let sparsity = self.sparsity();
        if !(sparsity.is_finite() && (0.0..1.0).contains(&sparsity)) {
            return Err(format!(
                "sparsity must be in [0, 1), got {sparsity} (SSAM's default is 0.5)"
            ));
        }
        if self.fisher_samples() == 0 {
            return Err("fisher_samples must be ≥ 1 (SSAM's default is 16)".into());
        }
        Ok(())
    }

    /// Forward/backward passes per step, averaged over a LookSAM period.
    pub fn passes_per_step(&self) -> f64 {
        match self.kind {
            SamKind::None | SamKind::S2Sam | SamKind::Msam => 1.0,
            SamKind::NStep => self.n() as f64 + 1.0,
            SamKind::CrSam => 3.0,
            SamKind::LookSam => 1.0 + 1.0 / self.k() as f64,
            // The full pass at w and the pass on the γ share of the batch (plus one forward).
            SamKind::Esam => 1.0 + self.gamma(),
            _ => 2.0,
        }
    }

    /// ρ for step `step` at learning rate `lr`, following `rho_schedule` (GSAM defaults to `lr`).
    pub fn rho_at(&self, rho: f64, step: u64, lr: f64, lr_max: f64, lr_min: f64) -> f64 {
        match self.rho_schedule() {
            RhoSchedule::Constant => rho,
            RhoSchedule::Warmup { steps } => {
                rho * ((step + 1) as f64 / steps.max(1) as f64).min(1.0)
            }
            RhoSchedule::Lr if lr_max <= lr_min => rho,
            RhoSchedule::Lr => {
                let rho_min = self.rho_min.unwrap_or(rho);
                rho_min + (rho - rho_min) * (lr - lr_min) / (lr_max - lr_min)
            }
        }
    }

    /// SSAM-D's live parameters: N − ⌈N·s⌉ of `parameters`.
    pub fn live_count(&self, parameters: usize) -> usize {
        parameters - (parameters as f64 * self.sparsity()).ceil() as usize
    }

    /// SSAM-D's refresh at SAM step `step` of `total` (None: unknown, dr stays dr0): how many live
    /// parameters survive and how many dead ones regrow, [keep, grow]. keep + grow is always the
    /// live count (the reference caps the regrowth at N·s and can lose live parameters when
    /// dr > s/(1 − s); here fewer die instead).
    pub fn ssamd_counts(&self, parameters: usize, step: u64, total: Option<u64>) -> [u32; 2] {
        let live = self.live_count(parameters);
        let progress = total.map_or(0.0, |t| step as f64 / t.max(1) as f64);
        let rate =
            self.drop_rate() * (1.0 + crate::host_math::cos(std::f64::consts::PI * progress)) / 2.0;
        let survivors = ((live as f64 * (1.0 - rate)).floor() as usize)
            .max((2 * live).saturating_sub(parameters))
            .min(live);
        [survivors as u32, (live - survivors) as u32]
    }

    pub fn rho_schedule(&self) -> RhoSchedule {
        self.rho_schedule
            .clone()
            .unwrap_or(if self.kind == SamKind::Gsam {
                RhoSchedule::Lr
            } else {
                RhoSchedule::Constant
            })
    }

    /// Whether step `step` of `total` uses the SAM rule (late-phase SAM starts at a fraction).
    pub fn active_at(&self, step: u64, total: u64) -> bool {
        self.kind != SamKind::None
            && step as f64 >= self.start_fraction.unwrap_or(0.0) * total as f64
    }

    /// Which of `build_steps`' plans step `step` runs.
    pub fn plan_for_step(&self, step: u64) -> usize {
        match self.kind {
            SamKind::Sampa if step > 0 => 1,
            SamKind::LookSam | SamKind::Ssam if !step.is_multiple_of(self.k() as u64) => 1,
            // SSAM-D: the first step draws the initial mask, refresh steps renew it, others reuse it.
            SamKind::SsamD if step == 0 => 0,
            SamKind::SsamD if step.is_multiple_of(self.k() as u64) => 1,
            SamKind::SsamD => 2,
            _ => 0,
        }
    }

    fn scale(&self) -> Scale {
        match self.kind {
            SamKind::Asam => Scale::Adaptive {
                eta: self.eta() as f32,
                weights_only: true,
                xi: 1e-16,
            },
            SamKind::AsamDavda54 => Scale::Adaptive {
                eta: 0.0,
                weights_only: false,
                xi: 1e-12,
            },
            SamKind::SamLinf => Scale::Sign,
            _ => Scale::Unit,
        }
    }
}

/// How ρ moves during a run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum RhoSchedule {
    Constant,
    /// ρ_t = ρ_min + (ρ − ρ_min)·(lr_t − lr_min)/(lr_max − lr_min), GSAM's rule.
    Lr,
    /// ρ grows linearly to its value over `steps` steps.
    Warmup {
        steps: u64,
    },
}

impl RhoSchedule {
    /// Parses `constant`, `lr` or `warmup:STEPS`.
    pub fn parse(text: &str) -> Result<RhoSchedule, String> {
        let bad = || {
            format!(
                "unknown rho schedule {text:?}: use constant, lr or warmup:STEPS (e.g. warmup:500)"
            )
        };
        match text.split(':').collect::<Vec<_>>().as_slice() {
            ["constant"] => Ok(RhoSchedule::Constant),
            ["lr"] => Ok(RhoSchedule::Lr),
            ["warmup", steps] => Ok(RhoSchedule::Warmup {
                steps: steps.parse().map_err(|_| bad())?,
            }),
            _ => Err(bad()),
        }
    }
}

/// How many entries `top_k_exact` keeps: a number known when the plan is built, or entry `.1` of
/// a counts buffer the host writes before each step.
#[derive(Clone, Copy)]
enum TopK<'a> {
    Fixed(usize),
    Counted(&'a BufView, u32),
}

/// How ε is shaped from the direction d.
#[derive(Clone, Copy, Debug)]
enum Scale {
    /// ε = ρ·d/(‖d‖ + ξ), ξ = 1e-12.
    Unit,
    /// ASAM: ε = ρ·T²⊙d/(‖T⊙d‖ + ξ), T = |w| + η (on weights only, or everywhere).
    Adaptive {
        eta: f32,
        weights_only: bool,
        xi: f32,
    },
    /// p = ∞: ε = ρ·sign(d).
    Sign,
}

/// Slots (vec4 each) in the small `scalars` buffer the SAM kernels share.
const DIRECTION_SLOT: u32 = 0; // (‖T⊙d‖², ‖d‖², ·, ·)
const DOTS_SLOT: u32 = 1; // (⟨g0, g1⟩, ‖g1‖², ‖g0‖², ·)
const LOOK_SLOT: u32 = 2; // (·, ‖gv‖², ·, ·)
const DELTA_SLOT: u32 = 3; // (·, ‖δ‖², ·, ·) n-step's accumulated perturbation
pub const SCALARS_LEN: usize = 16;
const XI: f32 = 1e-12;
/// SSAM's reference adds 1e-7 to ‖g0‖.
const SSAM_XI: f32 = 1e-7;

/// Elements per workgroup in the first level of flat reductions.
const CHUNK: usize = 4096;

/// The flat buffers one training step works on (all in the parameter layout).
pub struct FlatBuffers<'a> {
    pub params: &'a BufView,
    pub grad0: &'a BufView,
    pub grad1: &'a BufView,
    pub grad2: &'a BufView,
    pub saved: &'a BufView,
    /// The ascent direction when it is not g0 itself (F-SAM).
    pub direction: &'a BufView,
    /// Variant state: F-SAM's EMA, S2-SAM's previous gradient, LookSAM's ĝv.
    pub state: &'a BufView,
    /// The base optimizer's momentum buffer (MSAM ascends along −v).
    pub momentum: &'a BufView,
    pub weight_mask: &'a BufView,
    pub scalars: &'a BufView,
    pub sam_uniforms: &'a BufView,
    /// One vec4<u32> per parameter tensor: (flat offset, length, index of its first parameter, row
    /// length), for the rules that work per tensor or draw per parameter.
    pub tensor_table: &'a BufView,
    pub tensor_count: usize,
}

/// The pieces `build_steps` orders: each is a pre-built plan.
pub struct StepParts<'a> {
    pub load_batch: &'a Plan,
    /// Forward + backward at the current weights, gradient into grad0 / grad1 / grad2.
    pub pass_into: [&'a Plan; 3],
    /// The base optimizer: w ← opt(saved, grad1) (restore fused), and w ← opt(w, grad0/grad1).
    pub update_from_saved: &'a Plan,
    pub update_in_place_grad0: &'a Plan,
    pub update_in_place_grad1: &'a Plan,
    /// Metrics of a step without (pass into grad0) and with (passes into grad0 and grad1) SAM
    /// read-outs; `metrics_after_perturbed` reads the pass into grad1 only (S2-SAM).
    pub metrics_plain: &'a Plan,
    pub metrics_sam: &'a Plan,
    pub metrics_after_perturbed: &'a Plan,
    /// The base optimizer's weight decay (MSAM applies it at the perturbed weights).
    pub weight_decay: f32,
    /// m-sharpness: the batch split into sub-batches (empty for the other modes).
    pub sub_batches: &'a [SubBatch],
    /// SAMPa: the previous batch (kept by copying the current one after each step) and a pass on
    /// it into grad1; the optimizer's uniforms for the look-ahead point.
    pub previous_batch: Option<&'a PreviousBatch>,
    pub optimizer_uniforms: &'a BufView,
    /// SSAM: one pass per Fisher sample (row j of the batch copied out, gradient into grad2).
    pub sample_passes: &'a [Plan],
    /// Trainable scalars (padding excluded), for SSAM's share of kept parameters.
    pub parameter_count: usize,
    /// The run's seed (ESAM's, SSAM-D's and R-SAM's draws).
    pub seed: u32,
    /// SSAM-D: `[survivors, regrown]` of the step's refresh, written by the host before the step.
    pub counts: &'a BufView,
    /// R-SAM: one vec4<u32> per row of every tensor (flat offset, length, first parameter, 1 for a
    /// 1-D tensor) and their number.
    pub row_table: Option<(&'a BufView, usize)>,
    /// ESAM: the selection of the sharpest rows and the pass on them.
    pub esam: Option<&'a EsamParts>,
}

/// ESAM's passes after the perturbation (besides the full-batch forward at w + ε in
/// `pass_into[1]`, which writes each row's loss): the selection and copy of the sharpest rows, and
/// the forward/backward on them into grad1.
pub struct EsamParts {
    pub select: Plan,
    pub subset_pass: Plan,
    /// Rows of the subset over rows of the batch.
    pub share: f64,
}

pub struct PreviousBatch {
    pub keep_current: Plan,
    pub pass_into_grad1: Plan,
}

/// One m-sharpness sub-batch: its passes at w (gradient into grad0, statistics added into the
/// step's first-pass totals) and at w + ε_j (gradient into grad2, second-pass totals).
pub struct SubBatch {
    pub pass_at_w: Plan,
    pub pass_perturbed: Plan,
}

/// One kind of step and its cost.
pub struct StepPlan {
    pub plan: Plan,
    /// Forward/backward passes (a pass on part of the batch counts as its share).
    pub passes: f64,
}

/// The uniform block of `shaders/sam_perturb.wgsl` and `sam_rules.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SamUniforms {
    pub rho: f32,
    pub first_step: u32,
    /// SWA: the weight of this step's iterate in the running mean, 1/(n+1) (0: not averaging).
    pub average_weight: f32,
    /// SAM steps taken before this one (the step index of the random draws of ESAM, SSAM-D and R-SAM).
    pub sam_step: u32,
}

/// Records the plans of a training step in the loop's order (one per kind of step; see
/// `plan_for_step`). `scratch` receives the partial-sum buffers.
pub fn build_steps(
    gpu: &Arc<Gpu>,
    config: &SamConfig,
    flat: &FlatBuffers,
    parts: &StepParts,
    scratch: &mut Vec<BufView>,
) -> Vec<StepPlan> {
    let mut r = Recorder {
        gpu,
        flat,
        scratch,
        plan: Plan::new(),
        mask: None,
        norm_weight: None,
        rho_scale: 1.0,
        xi: XI,
    };
    r.plan.extend(parts.load_batch.clone());
    match config.kind {
        SamKind::None => {
            r.plan.extend(parts.pass_into[0].clone());
            r.norms(flat.grad0, Scale::Unit);
            r.plan.extend(parts.update_in_place_grad0.clone());
            r.plan.extend(parts.metrics_plain.clone());
            vec![r.finish(1)]
        }
        SamKind::S2Sam => {
            // d = the previous step's perturbed gradient (zero before the first step, so ε = 0).
            // Its norm is already in scalars[DIRECTION_SLOT]: the previous step reduced it as
            // that step's ‖g‖ read-out, and nothing has written the slot since.
            r.perturb(flat.state, Scale::Unit, false);
            r.plan.extend(parts.pass_into[1].clone());
            r.plan.copy(flat.grad1, flat.state);
            r.norms(flat.grad1, Scale::Unit); // the ‖g‖ read-out, and next step's ‖d‖
            r.plan.extend(parts.update_from_saved.clone());
            r.plan.extend(parts.metrics_after_perturbed.clone());
            vec![r.finish(1)]
        }
        SamKind::LookSam => {
            let refresh = {
                r.sam_step(config, parts);
                // Keep the part of g1 orthogonal to g0, normalised, for the steps in between.
                r.rule(
                    Kernel::new("sam_rules").define("LOOK_STORE"),
                    &[flat.state, flat.grad0, flat.grad1, flat.scalars],
                );
                r.slot_norms(flat.state, LOOK_SLOT);
                r.rule(
                    Kernel::new("sam_rules").define("LOOK_NORMALIZE"),
                    &[flat.state, flat.scalars],
                );
                r.plan.extend(parts.update_from_saved.clone());
                r.plan.extend(parts.metrics_sam.clone());
                r.finish(2)
            };
            r.plan.extend(parts.load_batch.clone());
            r.plan.extend(parts.pass_into[0].clone());
            r.norms(flat.grad0, Scale::Unit);
            let combine = Kernel::new("sam_rules")
                .define("LOOK_COMBINE")
                .constant("ALPHA", config.alpha() as f32);
            r.rule(combine, &[flat.grad1, flat.grad0, flat.state, flat.scalars]);
            r.plan.extend(parts.update_in_place_grad1.clone());
            r.plan.extend(parts.metrics_plain.clone());
            let reuse = r.finish(1);
            vec![refresh, reuse]
        }
        SamKind::Msam => {
            // DIR = −v: the perturbed point w − ρ·v/(‖v‖+ξ) (v = 0 on the first step, so ε = 0).
            // ‖v‖² comes from the previous step's closing reduction (component z, see below).
            r.perturb_along(flat.momentum, -1.0, 2);
            r.plan.extend(parts.pass_into[1].clone());
            if parts.weight_decay != 0.0 {
                let decay = Kernel::new("sam_rules")
                    .define("MSAM_DECAY")
                    .constant("WEIGHT_DECAY", parts.weight_decay);
                r.rule(decay, &[flat.grad1, flat.params, flat.saved]);
            }
            r.plan.extend(parts.update_from_saved.clone());
            // One reduction after the update serves twice: (⟨v, g⟩, ‖g‖², ‖v‖²) gives this
            // step's ‖g‖ read-out and the next step's ‖v‖ (v changes only in the update).
            r.dots_into(flat.momentum, flat.grad1, DIRECTION_SLOT);
            r.plan.extend(parts.metrics_after_perturbed.clone());
            vec![r.finish(1)]
        }
        SamKind::NStep => {
            r.plan.extend(parts.pass_into[0].clone());
            r.plan.copy(flat.params, flat.saved);
            let ascent = Kernel::new("sam_rules")
                .define("NSTEP_ASCENT")
                .constant("ALPHA", config.alpha() as f32);
            for i in 0..config.n() {
                let g = if i == 0 { flat.grad0 } else { flat.grad1 };
                r.norms(g, Scale::Unit);
                r.rule(
                    ascent.clone(),
                    &[flat.direction, flat.params, flat.saved, g, flat.scalars],
                );
                r.slot_norms(flat.direction, DELTA_SLOT);
                r.rule(
                    Kernel::new("sam_rules").define("NSTEP_PROJECT"),
                    &[
                        flat.params,
                        flat.saved,
                        flat.direction,
                        flat.scalars,
                        flat.sam_uniforms,
                    ],
                );
                r.plan.extend(parts.pass_into[1].clone());
            }
            r.dots();
            r.plan.extend(parts.update_from_saved.clone());
            r.plan.extend(parts.metrics_sam.clone());
            vec![r.finish(config.n() + 1)]
        }
        SamKind::Sampa => {
            let previous = parts
                .previous_batch
                .expect("SAMPa needs the previous batch");
            let mut plans = Vec::new();
            for first in [true, false] {
                if !first {
                    r.plan.extend(parts.load_batch.clone());
                }
                if first {
                    // No previous batch yet: both gradients are taken on the first batch.
                    r.plan.extend(previous.keep_current.clone());
                }
                r.norms(flat.state, Scale::Unit);
                r.perturb(flat.state, Scale::Unit, false); // x + ρ·g_y/‖g_y‖ (g_y = 0 at first)
                r.plan.extend(previous.pass_into_grad1.clone()); // G_a on B_{t−1}
                r.rule(
                    Kernel::new("sam_rules").define("SAMPA_Y"),
                    &[
                        flat.params,
                        flat.saved,
                        flat.state,
                        flat.momentum,
                        parts.optimizer_uniforms,
                    ],
                );
                r.plan.extend(parts.pass_into[0].clone()); // g_y' at y on B_t
                let combine = Kernel::new("sam_rules")
                    .define("SAMPA_COMBINE")
                    .constant("LAMBDA", config.lambda() as f32);
                r.rule(combine, &[flat.grad1, flat.grad0, flat.state]);
                r.plan.extend(previous.keep_current.clone());
                r.plan.extend(parts.update_from_saved.clone());
                r.plan.extend(parts.metrics_plain.clone());
                plans.push(r.finish(2));
            }
            plans
        }
        SamKind::MSharp => {
            let share = 1.0 / parts.sub_batches.len() as f32;
            let accumulate = |first: bool| {
                Kernel::new("sam_rules")
                    .define("MSHARP_ACCUMULATE")
                    .define_if(first, "FIRST")
                    .constant("SCALE", share)
            };
            for (j, sub) in parts.sub_batches.iter().enumerate() {
                if j > 0 {
                    r.plan.copy(flat.saved, flat.params); // back to w for the next sub-batch
                }
                r.plan.extend(sub.pass_at_w.clone());
                // The mean of the g0_j is the whole batch's g0 (for the read-outs).
                r.rule(accumulate(j == 0), &[flat.direction, flat.grad0]);
                r.norms(flat.grad0, Scale::Unit);
                r.perturb(flat.grad0, Scale::Unit, false);
                r.plan.extend(sub.pass_perturbed.clone());
                r.rule(accumulate(j == 0), &[flat.grad1, flat.grad2]);
            }
            r.dots_of(flat.direction, flat.grad1);
            r.plan.extend(parts.update_from_saved.clone());
            r.plan.extend(parts.metrics_sam.clone());
            vec![r.finish(2)]
        }
        SamKind::Ssam => {
            // Fisher information of the parameters over the first N_s rows of the batch, the top
            // (1 − s) of it as a 0/1 mask (refresh steps only), then a SAM step with ε ⊙ mask.
            let keep =
                ((1.0 - config.sparsity()) * parts.parameter_count as f64 + 0.5).floor() as usize;
            let mut plans = Vec::new();
            for refresh in [true, false] {
                if refresh {
                    for (j, sample) in parts.sample_passes.iter().enumerate() {
                        r.plan.extend(sample.clone());
                        let accumulate = Kernel::new("sam_rules")
                            .define("FISHER_ACCUMULATE")
                            .define_if(j == 0, "FIRST");
                        r.rule(accumulate, &[flat.direction, flat.grad2]);
                    }
                    r.top_k_mask(flat.direction, flat.state, keep);
                } else {
                    r.plan.extend(parts.load_batch.clone());
                }
                r.mask = Some(flat.state);
                r.xi = SSAM_XI;
                r.sam_step(config, parts);
                r.mask = None;
                r.xi = XI;
                r.plan.extend(parts.update_from_saved.clone());
                r.plan.extend(parts.metrics_sam.clone());
                plans.push(r.finish(2));
            }
            plans
        }
        SamKind::SsamD => {
            // Plans: the first step (draws the random initial mask), refresh steps (renew the mask
            // after the perturbation, from the same g0; it applies from the next step) and the rest.
            let live = config.live_count(parts.parameter_count);
            let mut plans = Vec::new();
            for (first, refresh) in [(true, true), (false, true), (false, false)] {
                if first {
                    r.masks(
                        "SSAMD_INIT_SCORE",
                        &[flat.tensor_table, flat.grad2],
                        parts,
                        config.beta(),
                    );
                    r.top_k_exact(flat.grad2, flat.state, TopK::Fixed(live));
                } else {
                    r.plan.extend(parts.load_batch.clone());
                }
                r.plan.extend(parts.pass_into[0].clone());
                r.norms(flat.grad0, Scale::Unit);
                r.mask = Some(flat.state);
                r.xi = SSAM_XI;
                r.perturb(flat.grad0, Scale::Unit, false);
                r.mask = None;
                r.xi = XI;
                if refresh {
                    // Survivors: the live parameters with the largest |g0| (into `direction`) …
                    r.masks(
                        "SSAMD_DEATH_SCORE",
                        &[flat.grad0, flat.state, flat.grad2],
                        parts,
                        config.beta(),
                    );
                    r.top_k_exact(flat.grad2, flat.direction, TopK::Counted(parts.counts, 0));
                    // … plus as many of the dead ones, at random, as died.
                    r.masks(
                        "SSAMD_GROWTH_SCORE",
                        &[flat.tensor_table, flat.state, flat.grad2, flat.sam_uniforms],
                        parts,
                        config.beta(),
                    );
                    r.top_k_exact(flat.grad2, flat.state, TopK::Counted(parts.counts, 1));
                    r.masks(
                        "MASK_UNION",
                        &[flat.state, flat.direction],
                        parts,
                        config.beta(),
                    );
                }
                r.plan.extend(parts.pass_into[1].clone());
                r.dots();
                r.plan.extend(parts.update_from_saved.clone());
                r.plan.extend(parts.metrics_sam.clone());
                plans.push(r.finish(2));
            }
            plans
        }
        SamKind::Esam => {
            let esam = parts.esam.expect("the engine builds ESAM's passes"); // ok: engine invariant
            r.plan.extend(parts.pass_into[0].clone()); // g0 and each row's loss at w
            r.masks(
                "ESAM_MASK",
                &[flat.tensor_table, flat.state, flat.sam_uniforms],
                parts,
                config.beta(),
            );
            // ε = (ρ/β)·M⊙g0/(‖M⊙g0‖ + 1e-7): only the kept tensors move, by ρ/β.
            r.norm_weight = Some(flat.state);
            r.norms(flat.grad0, Scale::Unit);
            r.norm_weight = None;
            r.mask = Some(flat.state);
            r.xi = SSAM_XI;
            r.rho_scale = (1.0 / config.beta()) as f32;
            r.perturb(flat.grad0, Scale::Unit, false);
            r.mask = None;
            r.xi = XI;
            r.rho_scale = 1.0;
            r.plan.extend(parts.pass_into[1].clone()); // each row's loss at w + ε (forward only)
            r.plan.extend(esam.select.clone());
            r.plan.extend(esam.subset_pass.clone()); // g1 on the sharpest rows
            r.dots();
            r.plan.extend(parts.update_from_saved.clone());
            r.plan.extend(parts.metrics_sam.clone());
            vec![r.finish(1.0 + esam.share)]
        }
        SamKind::Rsam => {
            // A filter-wise Gaussian start δ0 (saved = w, w += δ0, δ0 into `direction`), g0 there.
            let (rows, row_count) = parts.row_table.expect("the engine builds R-SAM's rows"); // ok: engine invariant
            let noise = Kernel::new("sam_masks")
                .define("RSAM_NOISE")
                .constant("LEN", flat.params.len as u32)
                .constant("ROWS", row_count as u32)
                .constant("SEED", parts.seed)
                .constant("SIGMA", config.sigma() as f32);
            r.plan.push(gpu.dispatch(
                &noise,
                &[
                    rows,
                    flat.params,
                    flat.saved,
                    flat.direction,
                    flat.sam_uniforms,
                ],
                grid_1d(row_count),
            ));
            r.plan.extend(parts.pass_into[0].clone());
            r.plan.copy(flat.saved, flat.params); // back to w
            let direction = Kernel::new("sam_rules")
                .define("RSAM_DIRECTION")
                .constant("LAMBDA", config.lambda() as f32);
            r.rule(direction, &[flat.direction, flat.grad0]); // δ1 = λ·g0 + δ0
            r.norms(flat.direction, Scale::Unit);
            r.perturb(flat.direction, Scale::Unit, false);
            r.plan.extend(parts.pass_into[1].clone());
            r.dots();
            r.plan.extend(parts.update_from_saved.clone());
            r.plan.extend(parts.metrics_sam.clone());
            vec![r.finish(2)]
        }
        SamKind::Mup2 => {
            // The engine wrote the layer weights m^(−d_l) into `direction` and the layer scales
            // m^(½−d_l) into `state` (per element).
            r.norm_weight = Some(flat.direction);
            r.mask = Some(flat.state);
            r.sam_step(config, parts);
            r.plan.extend(parts.update_from_saved.clone());
            r.plan.extend(parts.metrics_sam.clone());
            vec![r.finish(2)]
        }
        SamKind::CrSam => {
            r.plan.extend(parts.pass_into[0].clone());
            r.norms(flat.grad0, Scale::Unit);
            r.perturb(flat.grad0, Scale::Unit, false);
            r.plan.extend(parts.pass_into[1].clone()); // g₊ at w + ε
            r.perturb(flat.grad0, Scale::Unit, true);
            r.plan.extend(parts.pass_into[2].clone()); // g₋ at w − ε
            r.dots();
            let combine = Kernel::new("sam_rules")
                .define("CRSAM_COMBINE")
                .constant("GAMMA", config.gamma() as f32)
                .constant("BETA", config.beta() as f32);
            r.rule(combine, &[flat.grad1, flat.grad0, flat.grad2]);
            r.plan.extend(parts.update_from_saved.clone());
            r.plan.extend(parts.metrics_sam.clone());
            vec![r.finish(3)]
        }
        _ => {
            r.sam_step(config, parts);
            if config.kind == SamKind::Gsam {
                let combine = Kernel::new("sam_rules")
                    .define("GSAM_COMBINE")
                    .constant("ALPHA", config.alpha() as f32);
                r.rule(combine, &[flat.grad1, flat.grad0, flat.scalars]);
            }
            r.plan.extend(parts.update_from_saved.clone());
            r.plan.extend(parts.metrics_sam.clone());
            vec![r.finish(2)]
        }
    }
}

/// The buffer holding G for `update_from_saved` (always grad1: COMBINE writes there).
pub fn update_gradient<'a>(flat: &FlatBuffers<'a>) -> &'a BufView {
    flat.grad1
}

struct Recorder<'a, 'b> {
    gpu: &'a Arc<Gpu>,
    flat: &'a FlatBuffers<'b>,
    scratch: &'a mut Vec<BufView>,
    plan: Plan,
    /// SSAM/ESAM: the 0/1 mask every perturbation is multiplied by (μP²: the layer scales), and ξ.
    mask: Option<&'b BufView>,
    /// ESAM/μP²: per-element weights inside the direction's norm (‖a⊙d‖).
    norm_weight: Option<&'b BufView>,
    /// ESAM: ρ's multiplier (1/β).
    rho_scale: f32,
    xi: f32,
}

impl Recorder<'_, '_> {
    fn finish(&mut self, passes: impl Into<f64>) -> StepPlan {
        StepPlan {
            plan: std::mem::take(&mut self.plan),
            passes: passes.into(),
        }
    }

    /// pass at w into grad0, DIR, ε, pass at w + ε into grad1, read-out dots.
    fn sam_step(&mut self, config: &SamConfig, parts: &StepParts) {
        let flat = self.flat;
        self.plan.extend(parts.pass_into[0].clone());
        let direction = if config.kind == SamKind::Fsam {
            let kernel = Kernel::new("sam_rules")
                .define("FSAM_DIRECTION")
                .constant("SIGMA", config.sigma() as f32)
                .constant("LAMBDA", config.lambda() as f32);
            self.rule(
                kernel,
                &[flat.grad0, flat.state, flat.direction, flat.sam_uniforms],
            );
            flat.direction
        } else {
            flat.grad0
        };
        let scale = config.scale();
        if !matches!(scale, Scale::Sign) {
            self.norms(direction, scale);
        }
        self.perturb(direction, scale, false);
        self.plan.extend(parts.pass_into[1].clone());
        self.dots();
    }

    /// One `sam_masks` kernel over the flat vector (see shaders/sam_masks.wgsl).
    /// `beta`: ESAM's probability of perturbing a tensor (unused by the other kernels).
    fn masks(
        &mut self,
        variant: &'static str,
        bindings: &[&BufView],
        parts: &StepParts,
        beta: f64,
    ) {
        let len = self.flat.params.len;
        let kernel = Kernel::new("sam_masks")
            .define(variant)
            .constant("LEN", len as u32)
            .constant("TENSORS", self.flat.tensor_count as u32)
            .constant("SEED", parts.seed)
            .constant("BETA", beta as f32);
        let command = self.gpu.dispatch(&kernel, bindings, grid_1d(len));
        self.plan.push(command);
    }

    /// mask = 1 on exactly k of the largest entries of the non-negative `values` (at the threshold
    /// the lower indices win), 0 elsewhere; k fixed, or read from `counts` when the step runs.
    fn top_k_exact(&mut self, values: &BufView, mask: &BufView, k: TopK) {
        let len = values.len;
        let groups = grid_1d(len);
        let chunks = (groups[0] * groups[1]) as usize;
        let words = self.gpu.alloc(4);
        let bins = self.gpu.alloc(256);
        let ties = self.gpu.alloc(chunks);
        self.scratch
            .extend([words.clone(), bins.clone(), ties.clone()]);
        let kernel = |variant: &'static str, shift: u32| {
            let kernel = Kernel::new("topk")
                .define(variant)
                .constant("LEN", len as u32)
                .constant("SHIFT", shift)
                .constant("CHUNKS", chunks as u32);
            match k {
                TopK::Fixed(keep) => kernel.constant("K", keep.min(len) as u32),
                TopK::Counted(_, index) => kernel
                    .define("K_FROM_COUNTS")
                    .constant("COUNT_INDEX", index),
            }
        };
        let mut push = |kernel: Kernel, bindings: &[&BufView], groups: [u32; 3]| {
            let command = self.gpu.dispatch(&kernel, bindings, groups);
            self.plan.push(command);
        };
        match k {
            TopK::Fixed(_) => push(kernel("INIT", 0), &[&words], [1, 1, 1]),
            TopK::Counted(counts, _) => push(kernel("INIT", 0), &[&words, counts], [1, 1, 1]),
        }
        for round in 0..4 {
            let shift = 24 - 8 * round;
            push(kernel("HISTOGRAM", shift), &[values, &words, &bins], groups);
            push(kernel("SELECT", shift), &[&words, &bins], [1, 1, 1]);
        }
        push(kernel("TIE_COUNT", 0), &[values, &words, &ties], groups);
        push(kernel("TIE_SCAN", 0), &[&ties], [1, 1, 1]);
        push(
            kernel("MASK_EXACT", 0),
            &[values, &words, &ties, mask],
            groups,
        );
    }

    /// mask = 1 on the `keep` largest entries of the non-negative `values` (all entries equal to
    /// the keep-th largest are kept), 0 elsewhere: a radix select on the GPU (shaders/topk.wgsl).
    fn top_k_mask(&mut self, values: &BufView, mask: &BufView, keep: usize) {
        let len = values.len;
        let words = self.gpu.alloc(4);
        let bins = self.gpu.alloc(256);
        self.scratch.extend([words.clone(), bins.clone()]);
        let kernel = |variant: &'static str, shift: u32| {
            Kernel::new("topk")
                .define(variant)
                .constant("LEN", len as u32)
                .constant("K", keep.min(len) as u32)
                .constant("SHIFT", shift)
        };
        let mut push = |kernel: Kernel, bindings: &[&BufView], groups: [u32; 3]| {
            let command = self.gpu.dispatch(&kernel, bindings, groups);
            self.plan.push(command);
        };
        push(kernel("INIT", 0), &[&words], [1, 1, 1]);
        for round in 0..4 {
            let shift = 24 - 8 * round;
            push(
                kernel("HISTOGRAM", shift),
                &[values, &words, &bins],
                grid_1d(len),
            );
            push(kernel("SELECT", shift), &[&words, &bins], [1, 1, 1]);
        }
        push(kernel("MASK", 0), &[values, &words, mask], grid_1d(len));
    }

    fn rule(&mut self, kernel: Kernel, bindings: &[&BufView]) {
        let len = self.flat.params.len;
        let command =
            self.gpu
                .dispatch(&kernel.constant("LEN", len as u32), bindings, grid_1d(len));
        self.plan.push(command);
    }

    /// ‖T⊙d‖² and ‖d‖² into scalars[DIRECTION_SLOT].
    fn norms(&mut self, d: &BufView, scale: Scale) {
        let mut kernel = Kernel::new("flat_reduce").define("NORMS");
        let mut extra: Vec<&BufView> = Vec::new();
        if let Scale::Adaptive {
            eta, weights_only, ..
        } = scale
        {
            kernel = kernel
                .define("ADAPTIVE")
                .constant("ETA", eta)
                .constant("WEIGHTS_ONLY", weights_only as u32);
            extra = vec![self.flat.params, self.flat.weight_mask];
        } else if let Some(weight) = self.norm_weight {
            kernel = kernel.define("WEIGHTED");
            extra = vec![weight];
        }
        self.reduce(kernel, d, None, &extra, DIRECTION_SLOT);
    }

    fn slot_norms(&mut self, d: &BufView, slot: u32) {
        self.reduce(
            Kernel::new("flat_reduce").define("NORMS"),
            d,
            None,
            &[],
            slot,
        );
    }

    /// ⟨g0, g1⟩, ‖g1‖², ‖g0‖² into scalars[DOTS_SLOT].
    fn dots(&mut self) {
        let (g0, g1) = (self.flat.grad0, self.flat.grad1);
        self.dots_of(g0, g1);
    }

    fn dots_of(&mut self, g0: &BufView, g1: &BufView) {
        self.dots_into(g0, g1, DOTS_SLOT);
    }

    /// (⟨a, b⟩, ‖b‖², ‖a‖²) into scalars[slot].
    fn dots_into(&mut self, a: &BufView, b: &BufView, slot: u32) {
        self.reduce(
            Kernel::new("flat_reduce").define("DOTS"),
            a,
            Some(b),
            &[],
            slot,
        );
    }

    /// Two-level deterministic reduction of `a` (and `b`) into scalars[slot].
    fn reduce(
        &mut self,
        kernel: Kernel,
        a: &BufView,
        b: Option<&BufView>,
        extra: &[&BufView],
        slot: u32,
    ) {
        let (plan, partials) =
            flat_reduction(self.gpu, kernel, a, b, extra, self.flat.scalars, slot);
        self.plan.extend(plan);
        self.scratch.push(partials);
    }

    /// saved = w; w += sign·ρ·d/(‖d‖ + ξ).
    fn perturb_along(&mut self, d: &BufView, sign: f32, norm_component: u32) {
        let len = self.flat.params.len;
        let kernel = Kernel::new("sam_perturb")
            .constant("LEN", len as u32)
            .constant("NORM_SLOT", DIRECTION_SLOT)
            .constant("NORM_COMPONENT", norm_component)
            .constant("XI", XI)
            .constant("DIRECTION_SIGN", sign);
        let f = self.flat;
        self.plan.push(self.gpu.dispatch(
            &kernel,
            &[f.params, f.saved, d, f.scalars, f.sam_uniforms],
            grid_1d(len),
        ));
    }

    /// saved = w; w += ε(d) — or, `negative`, w = saved − ε(d).
    fn perturb(&mut self, d: &BufView, scale: Scale, negative: bool) {
        let flat = self.flat;
        let len = flat.params.len;
        let mut kernel = Kernel::new("sam_perturb")
            .constant("LEN", len as u32)
            .constant("NORM_SLOT", DIRECTION_SLOT)
            .define_if(negative, "NEGATIVE");
        let mut bindings = vec![flat.params, flat.saved, d, flat.scalars, flat.sam_uniforms];
        match scale {
            Scale::Unit => {
                kernel = kernel
                    .constant("XI", self.xi)
                    .constant("RHO_SCALE", self.rho_scale);
                if let Some(mask) = self.mask {
                    kernel = kernel.define("MASKED");
                    bindings.push(mask);
                }
            }
            Scale::Sign => kernel = kernel.define("SIGN"),
            Scale::Adaptive {
                eta,
                weights_only,
                xi,
            } => {
                kernel = kernel
                    .define("ADAPTIVE")
                    .constant("ETA", eta)
                    .constant("WEIGHTS_ONLY", weights_only as u32)
                    .constant("XI", xi);
                bindings.push(flat.weight_mask);
            }
        }
        self.plan
            .push(self.gpu.dispatch(&kernel, &bindings, grid_1d(len)));
    }
}

/// The two dispatches of a deterministic flat reduction (shaders/flat_reduce.wgsl) of `a` (and
/// `b`, and a kernel's `extra` bindings) into `scalars[slot]`: fixed chunks per workgroup, then one
/// workgroup over the partial sums. Returns the plan and the partial-sum buffer it uses (the
/// caller keeps it alive as long as the plan, or releases it once the plan has been submitted).
pub fn flat_reduction(
    gpu: &Arc<Gpu>,
    kernel: Kernel,
    a: &BufView,
    b: Option<&BufView>,
    extra: &[&BufView],
    scalars: &BufView,
    slot: u32,
) -> (Plan, BufView) {
    let len = a.len;
    let groups = len.div_ceil(CHUNK).max(1);
    let partials = gpu.alloc(groups * 4);
    let kernel = kernel
        .constant("LEN", len as u32)
        .constant("CHUNK", CHUNK as u32);
    let mut bindings = vec![a];
    bindings.extend(b);
    bindings.push(&partials);
    bindings.extend(extra);
    let mut plan = Plan::new();
    plan.push(gpu.dispatch(&kernel, &bindings, [groups as u32, 1, 1]));
    let finish = Kernel::new("flat_reduce")
        .define("FINAL")
        .constant("LEN", groups as u32)
        .constant("SLOT", slot);
    plan.push(gpu.dispatch(&finish, &[&partials, scalars], [1, 1, 1]));
    (plan, partials)
}

#[cfg(test)]
mod tests {
    use super::{RhoSchedule, SamConfig, SamKind};

    #[test]
    fn rho_schedules_follow_their_rules() {
        let warm = SamConfig {
            rho_schedule: Some(RhoSchedule::parse("warmup:4").unwrap()),
            ..SamConfig::new(SamKind::Sam)
        };
        let rhos: Vec<f64> = (0..6)
            .map(|t| warm.rho_at(0.1, t, 0.05, 0.05, 0.05))
            .collect();
        for (got, want) in rhos.iter().zip([0.025, 0.05, 0.075, 0.1, 0.1, 0.1]) {
            assert!((got - want).abs() < 1e-12, "{rhos:?}");
        }
        // GSAM ties ρ to lr by default: halfway down the lr range, halfway between ρ_min and ρ.
        let gsam = SamConfig {
            rho_min: Some(0.02),
            ..SamConfig::new(SamKind::Gsam)
        };
        assert!((gsam.rho_at(0.1, 7, 0.05, 0.1, 0.0) - 0.06).abs() < 1e-12);
        assert_eq!(
            SamConfig::new(SamKind::Sam).rho_at(0.1, 7, 0.05, 0.1, 0.0),
            0.1,
            "constant by default"
        );
        assert!(RhoSchedule::parse("cosine")
            .unwrap_err()
            .contains("warmup:STEPS"));
    }

    #[test]
    fn late_phase_sam_starts_at_its_fraction_and_k_counts_passes() {
        let late = SamConfig {
            start_fraction: Some(0.5),
            ..SamConfig::new(SamKind::Sam)
        };
        assert!(!late.active_at(49, 100) && late.active_at(50, 100));
        assert!(!SamConfig::default().active_at(99, 100));
        assert!(SamConfig {
            start_fraction: Some(1.0),
            ..SamConfig::new(SamKind::Sam)
        }
        .validate()
        .is_err());
        let look = SamConfig {
            k: Some(5),
            ..SamConfig::new(SamKind::LookSam)
        };
        assert!((look.passes_per_step() - 1.2).abs() < 1e-12);
        let plans: Vec<usize> = (0..6).map(|t| look.plan_for_step(t)).collect();
        assert_eq!(plans, [0, 1, 1, 1, 1, 0], "refresh on steps 0 and 5");
    }
}
