//! The training run that the CLI (and later the page) drives: data on the GPU, the static step
//! plan built once from the tape, metrics accumulated on the GPU and read asynchronously.

pub mod checkpoint;
mod engine;
mod inspect;

use std::sync::Arc;

use crate::autograd::{BuiltPlan, Graph};
use crate::data::{with_label_noise, Dataset, GpuSplit, Shift};
use crate::gpu::{BufView, Gpu, GpuError, Kernel, OwnedBuffers, Plan};
pub use crate::nn::ModelKind;
use crate::nn::{bind_parameters, ForwardContext, Model};
use crate::ops::{cross_entropy, cross_entropy_with_predictions, NormMode, PredictionSink};
use crate::optim::{OptimizerConfig, OptimizerKind, Schedule};
use crate::rng::Rng;
use crate::sam::{SamConfig, SamKind};
use crate::sharpness::Probe;

pub use checkpoint::CheckpointError;
pub use engine::StepEngine;
pub use inspect::{FirstLayerWeights, TestPredictions};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid setting: {0}")]
    Config(String),
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Everything that defines a run; with the same data set and seed, two runs give the same bits.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub model: ModelKind,
    /// Hidden widths of the MLP (input and class counts come from the data set).
    pub hidden: Vec<usize>,
    /// Drop probability of a dropout layer before the classifier (0: none).
    pub dropout: f64,
    /// Random crops of training images padded by an eighth of their size (4 pixels on CIFAR-10),
    /// plus horizontal flips of colour images; seeded by `seed`.
    pub augment: bool,
    pub optimizer: OptimizerConfig,
    pub sam: SamConfig,
    pub schedule: Schedule,
    pub batch_size: usize,
    pub epochs: u32,
    pub seed: u64,
    /// Share of training labels replaced by a different random class, in [0, 1).
    pub label_noise: f64,
    pub label_smoothing: f64,
    /// Reshuffle the training split every epoch (off: keep the file order).
    pub shuffle: bool,
    /// Rows per evaluation batch.
    pub eval_batch_size: usize,
    /// SWA over the iterates (Kaddour et al. 2022): average the weights after every step from
    /// this fraction of the run on (e.g. 0.75); evaluated alongside the current weights.
    pub swa_start: Option<f64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: ModelKind::Mlp,
            hidden: vec![256, 256],
            dropout: 0.0,
            augment: false,
            optimizer: OptimizerConfig::default(),
            sam: SamConfig::default(),
            schedule: Schedule::Constant,
            batch_size: 128,
            epochs: 2,
            seed: 0,
            label_noise: 0.0,
            label_smoothing: 0.0,
            shuffle: true,
            eval_batch_size: 1000,
            swa_start: None,
        }
    }
}

/// The GPU computes in 32-bit floats: a hyperparameter beyond their range (about 3.4e38) would
/// become infinite there, so it is refused with its name rather than trained with.
fn fits_f32(name: &str, value: f64) -> Result<(), String> {
    if value.abs() > f32::MAX as f64 {
        return Err(format!(
            "{name} = {value:e} is too large: the GPU computes in 32-bit floats, whose largest value is about 3.4e38"
        ));
    }
    Ok(())
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), String> {
        self.optimizer.validate()?;
        self.sam.validate()?;
        let sam = &self.sam;
        for (name, value) in [
            ("lr", self.optimizer.lr),
            ("weight_decay", self.optimizer.weight_decay),
            ("rho", sam.rho()),
            ("eta", sam.eta()),
            ("alpha", sam.alpha()),
            ("sigma", sam.sigma()),
            ("lambda", sam.lambda()),
            ("gamma", sam.gamma()),
            ("beta", sam.beta()),
            ("rho_min", sam.rho_min()),
        ] {
            fits_f32(name, value)?;
        }
        if let Some(fraction) = self.swa_start {
            if !(fraction.is_finite() && (0.0..1.0).contains(&fraction)) {
                return Err(format!(
                    "swa_start must be in [0, 1), got {fraction} (e.g. 0.75)"
                ));
            }
        }
        if self.sam.kind == SamKind::MSharp
            && !self.batch_size.is_multiple_of(self.sam.m() as usize)
        {
            return Err(format!(
                "m-sharpness needs the batch size ({}) to be a multiple of m ({})",
                self.batch_size,
                self.sam.m()
            ));
        }
        if self.sam.kind == SamKind::Ssam && self.sam.fisher_samples() as usize > self.batch_size {
            return Err(format!(
                "ssam takes its Fisher samples from the batch: fisher_samples ({}) must be ≤ batch_size ({})",
                self.sam.fisher_samples(),
                self.batch_size
            ));
        }
        if self.sam.kind == SamKind::Sampa
            && (self.optimizer.kind != OptimizerKind::Sgd || self.optimizer.nesterov)
        {
            return Err("sampa builds its look-ahead point from plain SGD: use optimizer sgd without nesterov".into());
        }
        if self.sam.kind == SamKind::Msam
            && (self.optimizer.kind != OptimizerKind::Sgd || self.optimizer.momentum == 0.0)
        {
            return Err(
                "msam perturbs along the SGD momentum buffer: use optimizer sgd with momentum > 0"
                    .into(),
            );
        }
        self.schedule.validate()?;
        if self.batch_size == 0 {
            return Err("batch_size must be ≥ 1 (try 128)".into());
        }
        if self.eval_batch_size == 0 {
            return Err("eval_batch_size must be ≥ 1".into());
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(format!(
                "dropout must be in [0, 1), got {} (e.g. 0.25)",
                self.dropout
            ));
        }
        if self.hidden.contains(&0) {
            return Err(format!("hidden widths must be ≥ 1, got {:?}", self.hidden));
        }
        if !(self.label_noise.is_finite() && (0.0..1.0).contains(&self.label_noise)) {
            return Err(format!(
                "label_noise must be in [0, 1), got {}",
                self.label_noise
            ));
        }
        if !(self.label_smoothing.is_finite() && (0.0..1.0).contains(&self.label_smoothing)) {
            return Err(format!(
                "label_smoothing must be in [0, 1), got {}",
                self.label_smoothing
            ));
        }
        Ok(())
    }
}

/// What the training steps since the last read accumulated (means over the window).
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainMetrics {
    pub steps: u64,
    pub samples: u64,
    pub loss: f64,
    pub accuracy: f64,
    /// Mean ‖g0‖ (the gradient at w).
    pub grad_norm: f64,
    /// Mean L(w+ε) − L(w): the SAM sharpness read-out (SAM modes only).
    pub sharpness: Option<f64>,
    /// Mean cos(g0, g1) (SAM modes only).
    pub cos_g0_g1: Option<f64>,
    /// Steps whose loss or gradient was NaN/Inf.
    pub nonfinite_steps: u64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvalMetrics {
    pub samples: u64,
    pub loss: f64,
    pub accuracy: f64,
    pub nonfinite_rows: u64,
}

impl EvalMetrics {
    /// From the evaluation accumulator `(Σ loss·rows, Σ correct, Σ rows, non-finite rows)`.
    pub fn from_accumulator(acc: &[f32]) -> EvalMetrics {
        let rows = acc[2] as f64;
        EvalMetrics {
            samples: rows as u64,
            loss: if rows > 0.0 {
                acc[0] as f64 / rows
            } else {
                0.0
            },
            accuracy: if rows > 0.0 {
                acc[1] as f64 / rows
            } else {
                0.0
            },
            nonfinite_rows: acc[3] as u64,
        }
    }
}

/// A checkpoint of `model`: the flat weights and, for BatchNorm models, the running statistics
/// `state` with PyTorch's `num_batches_tracked` = `batches`.
pub fn checkpoint_bytes(
    model: &Model,
    mut flat: Vec<f32>,
    state: Option<Vec<f32>>,
    batches: u64,
) -> Vec<u8> {
    let Some(state) = state else {
        return checkpoint::to_safetensors(&model.layout, &flat);
    };
    flat.extend_from_slice(&state[..model.state.total_len]);
    let counters: Vec<(String, i64)> = model
        .state
        .specs
        .iter()
        .filter_map(|spec| spec.name.strip_suffix(".running_mean"))
        .map(|prefix| {
            let name = format!("{prefix}{}", checkpoint::BATCH_COUNTER_SUFFIX);
            (name, batches as i64)
        })
        .collect();
    checkpoint::to_safetensors_with_counters(&model.checkpoint_layout(), &flat, &counters)
}

/// The plan that recomputes the SWA average's BatchNorm statistics, its state and batch counter.
struct AverageBatchNorm {
    plan: Plan,
    state: BufView,
    seen: BufView,
}

/// Activation values (f32) one evaluation batch may hold: 64 MiB.
const EVAL_ACTIVATION_BUDGET: usize = 16 << 20;

/// Length of the training-metrics accumulator (see shaders/metrics.wgsl).
const METRICS_LEN: usize = 16;

pub struct Trainer {
    pub config: TrainConfig,
    pub model: Model,
    gpu: Arc<Gpu>,
    train_split: GpuSplit,
    test_split: GpuSplit,
    params: BufView,
    eval_metrics: BufView,
    engine: StepEngine,
    eval_plan: Plan,
    average_eval_plan: Option<Plan>,
    /// SWA with BatchNorm: recomputes the average's running statistics.
    average_bn_plan: Option<AverageBatchNorm>,
    eval_rows: usize,
    /// What the evaluation of the current weights predicted for each test sample (see
    /// `PredictionSink`), and the step whose weights it holds (None: none since the last load).
    predictions: BufView,
    predictions_step: Option<u64>,
    /// The shift every evaluation applies to the test images (`set_test_shift`; None: as loaded).
    test_shift: Option<Shift>,
    /// The test labels (the GPU has them too), to return with the predictions.
    test_labels: Vec<u8>,
    /// The data set's per-channel normalisation (for the sharpness probe's batch).
    norm: crate::data::Normalisation,
    _eval_graphs: Vec<BuiltPlan>,
    _owned: OwnedBuffers,
    shuffle_rng: Rng,
    /// Steps taken.
    pub step: u64,
    pub steps_per_epoch: u64,
    base_lr: f64,
    rho: f64,
}

impl Trainer {
    /// Uploads the data set, builds every plan and initialises the weights (PyTorch's default
    /// init from `config.seed`, or `init` when given as a flat vector in the model's layout).
    pub fn new(
        gpu: &Arc<Gpu>,
        config: TrainConfig,
        dataset: &Dataset,
        init: Option<&[f32]>,
    ) -> Result<Trainer, TrainError> {
        config.validate().map_err(TrainError::Config)?;
        if dataset.train.count < config.batch_size {
            return Err(TrainError::Config(format!(
                "batch_size {} is larger than the training split ({} samples)",
                config.batch_size, dataset.train.count
            )));
        }
        if dataset.shape[0] > 3 || dataset.shape.iter().product::<usize>() != dataset.train.features
        {
            return Err(TrainError::Config(format!(
                "samples of shape {:?} (channels × height × width) do not match {} bytes per sample, or have more than 3 channels",
                dataset.shape, dataset.train.features
            )));
        }
        let norm = dataset.normalisation();
        let model = Model::new(
            config.model,
            dataset.shape,
            dataset.classes,
            &config.hidden,
            config.dropout,
        )
        .map_err(TrainError::Config)?;
        let layout = model.layout.clone();
        let len = layout.total_len;
        gpu.check_binding_size("the parameter vector", len as u64 * 4)?;

        let noisy_labels = with_label_noise(
            &dataset.train.labels,
            config.label_noise,
            dataset.classes,
            config.seed,
        );
        let train_split = GpuSplit::upload(gpu, &dataset.train, &noisy_labels)?;
        let test_split = GpuSplit::upload(gpu, &dataset.test, &dataset.test.labels)?;

        let initial = match init {
            Some(flat) if flat.len() == len => flat.to_vec(),
            Some(flat) => {
                return Err(TrainError::Config(format!(
                    "initial weights have {} values, the model needs {len}",
                    flat.len()
                )))
            }
            None => model.init(config.seed),
        };
        let mut owned = OwnedBuffers::new(gpu);
        let (batch, load_batch) = train_split.gather_plan(
            config.batch_size,
            &norm,
            config.augment.then_some(config.seed),
        );
        owned.keep(&batch.x);
        owned.keep(&batch.labels);
        let mut engine = StepEngine::new(gpu, &model, &config, &initial, &batch, load_batch);
        // SSAM-D's drop rate decays over the SAM steps of the run (late-phase SAM: after the switch).
        let total_steps = (dataset.train.count / config.batch_size) as u64 * config.epochs as u64;
        let first_sam_step =
            (config.sam.start_fraction.unwrap_or(0.0) * total_steps as f64).ceil() as u64;
        engine.sam_steps_total = Some(total_steps.saturating_sub(first_sam_step).max(1));
        let params = engine.params.clone();
        let eval_metrics = gpu.alloc(4);
        owned.keep(&eval_metrics);
        let predictions = gpu.alloc(2 * dataset.test.count.max(1));
        owned.keep(&predictions);

        // Evaluation: forward only, in batches of eval_batch_size, accumulated on the GPU.
        // Evaluation batches stay within a memory budget for wide convolutional models (a
        // ResNet-8 on CIFAR-10 evaluates ~100 images per batch, an MLP the full 1,000).
        let eval_rows = config
            .eval_batch_size
            .min(
                config
                    .batch_size
                    .max(EVAL_ACTIVATION_BUDGET / model.activations_per_sample),
            )
            .min(dataset.test.count.max(1));
        let (eval_batch, eval_load) = test_split.gather_plan(eval_rows, &norm, None);
        owned.keep(&eval_batch.x);
        owned.keep(&eval_batch.labels);
        // SWA with BatchNorm: the average gets its own running statistics, recomputed over the
        // training split before it is evaluated or saved (PyTorch's swa_utils.update_bn).
        let average_stats = (config.swa_start.is_some() && model.has_batch_norm()).then(|| {
            let state = gpu.upload(&model.init_state());
            owned.keep(&state);
            let seen_buffer = gpu.alloc_uniform(16);
            owned.keep_buffer(&seen_buffer);
            (state, BufView::whole(&seen_buffer))
        });
        // One forward-only plan over the weights (writing each test sample's prediction as it
        // goes), and one over the SWA average when averaging.
        let mut eval_graphs = Vec::new();
        let test_cursor = test_split.cursor();
        let sink = PredictionSink {
            cursor: &test_cursor,
            predictions: &predictions,
            total: dataset.test.count.max(1), // (an empty split writes nothing)
        };
        let mut eval_over = |weights: &BufView, state: &BufView, sink: Option<&PredictionSink>| {
            let mut g = Graph::new(gpu);
            let x = g.input(eval_batch.x.clone(), &[eval_rows, model.inputs()]);
            let tensors = bind_parameters(&mut g, &layout, weights, &engine.grad0);
            let context = ForwardContext {
                state,
                mode: NormMode::Eval,
                step: &engine.dropout_step,
                seen: None,
            };
            let logits = model.forward(&mut g, x, &tensors, &context);
            let loss = match sink {
                Some(sink) => {
                    cross_entropy_with_predictions(&mut g, logits, &eval_batch.labels, sink)
                }
                None => cross_entropy(&mut g, logits, &eval_batch.labels, 0.0),
            };
            g.launch(
                &Kernel::new("metrics").define("EVAL"),
                &[&loss.stats, &eval_metrics],
                [1, 1, 1],
            );
            let built = g.finish();
            let mut plan = eval_load.clone();
            plan.extend(built.plan.clone());
            eval_graphs.push(built);
            plan
        };
        let eval_plan = eval_over(&params, &engine.norm_state, Some(&sink));
        let average_eval_plan = config.swa_start.is_some().then(|| {
            let state = average_stats
                .as_ref()
                .map_or(&engine.norm_state, |(s, _)| s);
            eval_over(&engine.average, state, None)
        });
        // The recomputation: forward passes over training batches (no augmentation, no dropout)
        // at the average, folding each batch's statistics into the average's state.
        let average_bn_plan = average_stats.as_ref().map(|(state, seen)| {
            let (batch, load) = train_split.gather_plan(config.batch_size, &norm, None);
            owned.keep(&batch.x);
            owned.keep(&batch.labels);
            let mut g = Graph::new(gpu);
            let x = g.input(batch.x.clone(), &[batch.rows, model.inputs()]);
            let tensors = bind_parameters(&mut g, &layout, &engine.average, &engine.grad0);
            let context = ForwardContext {
                state,
                mode: NormMode::Recompute,
                step: &engine.dropout_step,
                seen: Some(seen),
            };
            model.forward(&mut g, x, &tensors, &context);
            let built = g.finish();
            let mut plan = load;
            plan.extend(built.plan.clone());
            eval_graphs.push(built);
            AverageBatchNorm {
                plan,
                state: state.clone(),
                seen: seen.clone(),
            }
        });

        let steps_per_epoch = (dataset.train.count / config.batch_size) as u64;
        let trainer = Trainer {
            base_lr: config.optimizer.lr,
            rho: config.sam.rho(),
            model,
            gpu: gpu.clone(),
            train_split,
            test_split,
            params,
            eval_metrics,
            engine,
            eval_plan,
            average_eval_plan,
            average_bn_plan,
            eval_rows,
            predictions,
            predictions_step: None,
            test_shift: None,
            test_labels: dataset.test.labels.clone(),
            norm,
            _eval_graphs: eval_graphs,
            _owned: owned,
            shuffle_rng: Rng::new(config.seed, 2),
            step: 0,
            steps_per_epoch,
            config,
        };
        Ok(trainer)
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }

    /// Steps in the whole run (`epochs` × steps per epoch; the last partial batch of an epoch is
    /// dropped so every step has the same static shapes).
    pub fn total_steps(&self) -> u64 {
        self.steps_per_epoch * self.config.epochs as u64
    }

    /// Epochs completed, fractional.
    pub fn epoch(&self) -> f64 {
        self.step as f64 / self.steps_per_epoch as f64
    }

    /// Learning rate the next step uses.
    pub fn learning_rate(&self) -> f64 {
        self.config.schedule.lr_at(
            self.base_lr,
            self.step,
            self.total_steps(),
            self.steps_per_epoch,
        )
    }

    /// The smallest learning rate the schedule reaches (GSAM maps [lr_min, lr_max] onto ρ).
    fn min_learning_rate(&self) -> f64 {
        match self.config.schedule {
            Schedule::Constant => self.base_lr,
            Schedule::Cosine { .. } => 0.0,
            Schedule::Step { gamma, step_epochs } => {
                let drops = (self.config.epochs.saturating_sub(1) / step_epochs) as i32;
                self.base_lr * gamma.powi(drops).min(1.0)
            }
        }
    }

    /// Changes the base learning rate (the schedule scales it from the next step on).
    pub fn set_learning_rate(&mut self, lr: f64) -> Result<(), TrainError> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(TrainError::Config(format!(
                "lr must be a finite number > 0, got {lr}"
            )));
        }
        fits_f32("lr", lr).map_err(TrainError::Config)?;
        self.base_lr = lr;
        Ok(())
    }

    /// Changes ρ from the next step on.
    pub fn set_rho(&mut self, rho: f64) -> Result<(), TrainError> {
        if !(rho.is_finite() && rho >= 0.0) {
            return Err(TrainError::Config(format!(
                "rho must be a finite number ≥ 0, got {rho}"
            )));
        }
        fits_f32("rho", rho).map_err(TrainError::Config)?;
        self.rho = rho;
        Ok(())
    }

    /// Encodes and submits one training step (one submission; nothing is read back).
    pub fn step(&mut self) {
        let in_epoch = self.step % self.steps_per_epoch;
        if in_epoch == 0 {
            self.start_epoch();
        }
        self.train_split
            .set_cursor(in_epoch as usize * self.config.batch_size, self.step);
        let lr = self.learning_rate();
        let sam = &self.config.sam;
        let rho = sam.rho_at(
            self.rho,
            self.step,
            lr,
            self.base_lr,
            self.min_learning_rate(),
        );
        let use_sam = sam.active_at(self.step, self.total_steps());
        if use_sam && self.step > 0 && !sam.active_at(self.step - 1, self.total_steps()) {
            // Late-phase SAM: the reference restarts the base optimizer at the switch.
            self.engine.optimizer.reset_state();
        }
        let average = self
            .config
            .swa_start
            .is_some_and(|f| self.step as f64 >= f * self.total_steps() as f64);
        self.engine.step(lr, rho, use_sam, average);
        self.step += 1;
    }

    fn start_epoch(&mut self) {
        let mut order: Vec<u32> = (0..self.train_split.count as u32).collect();
        if self.config.shuffle {
            self.shuffle_rng.shuffle(&mut order);
        }
        self.train_split.set_order(&order);
    }

    /// Reads and resets the training metrics accumulated since the last call.
    pub async fn take_train_metrics(&mut self) -> Result<TrainMetrics, TrainError> {
        let acc = self.gpu.take_f32(&self.engine.train_metrics).await?;
        Ok(self.interpret_train_metrics(&acc))
    }

    /// The GPU accumulator behind `take_train_metrics`, for callers that read it themselves (the
    /// web layer reads without holding the trainer across the await).
    pub fn train_metrics_view(&self) -> BufView {
        self.engine.train_metrics.clone()
    }

    /// Turns a read of `train_metrics_view` into means over the window.
    pub fn interpret_train_metrics(&self, acc: &[f32]) -> TrainMetrics {
        let steps = acc[3].max(0.0) as u64;
        let sam_steps = acc[13].max(0.0) as u64;
        let per_sam_step = |v: f32| {
            if sam_steps > 0 {
                v as f64 / sam_steps as f64
            } else {
                0.0
            }
        };
        let per_step = |v: f32| {
            if steps > 0 {
                v as f64 / steps as f64
            } else {
                0.0
            }
        };
        let rows = acc[2] as f64;
        let uses_sam = self.config.sam.kind != SamKind::None;
        TrainMetrics {
            steps,
            samples: rows as u64,
            loss: if rows > 0.0 {
                acc[0] as f64 / rows
            } else {
                0.0
            },
            accuracy: if rows > 0.0 {
                acc[1] as f64 / rows
            } else {
                0.0
            },
            grad_norm: per_step(acc[5]),
            sharpness: (uses_sam && sam_steps > 0).then(|| per_sam_step(acc[4])),
            cos_g0_g1: (uses_sam && sam_steps > 0).then(|| per_sam_step(acc[6])),
            nonfinite_steps: acc[11] as u64,
        }
    }

    /// Loss and accuracy on the whole test split.
    pub async fn evaluate(&mut self) -> Result<EvalMetrics, TrainError> {
        let view = self.submit_evaluation();
        let acc = self.gpu.take_f32(&view).await?;
        Ok(EvalMetrics::from_accumulator(&acc))
    }

    /// Submits the evaluation of the whole test split; read (and clear) the returned accumulator
    /// and pass it to `EvalMetrics::from_accumulator`.
    pub fn submit_evaluation(&mut self) -> BufView {
        self.submit_over_test_split(&self.eval_plan);
        self.predictions_step = Some(self.step);
        self.eval_metrics.clone()
    }

    /// Loss and accuracy on the test split with `shift` applied to every image (computed on the
    /// GPU from the originals, which are back in place afterwards, with the run's own test shift
    /// if it has one): out-of-distribution tests in the style of MNIST-C.
    pub async fn evaluate_shifted(&mut self, shift: Shift) -> Result<EvalMetrics, TrainError> {
        let shape = self.norm.shape;
        self.test_split
            .shift(Some(shift), shape)
            .map_err(TrainError::Config)?;
        let result = self.evaluate().await;
        // That pass's predictions are of the shifted images, not the test split's.
        self.predictions_step = None;
        self.test_split
            .shift(self.test_shift, shape)
            .map_err(TrainError::Config)?;
        result
    }

    /// From now on every evaluation, prediction and sharpness probe sees the test images with
    /// `shift` applied (None: the images as loaded): a run whose test set is out of distribution,
    /// as the page's "test images" setting chooses. Training data is never shifted.
    pub fn set_test_shift(&mut self, shift: Option<Shift>) -> Result<(), TrainError> {
        self.test_split
            .shift(shift, self.norm.shape)
            .map_err(TrainError::Config)?;
        self.test_shift = shift;
        self.predictions_step = None;
        Ok(())
    }

    pub fn test_shift(&self) -> Option<Shift> {
        self.test_shift
    }

    /// Where the test images lie as evaluations see them (shifted when the run has a test shift)
    /// and their byte count (`count × features`, file order): read with
    /// `data::read_pixel_bytes`.
    pub fn test_pixels(&self) -> (BufView, usize) {
        self.test_split.pixels()
    }

    /// Runs `plan` once per evaluation batch of the test split, accumulating from zero (an
    /// evaluation nobody read, such as the one behind `predict_test`, never adds to the next).
    fn submit_over_test_split(&self, plan: &Plan) {
        let zeros = [0u8; 16];
        self.gpu.queue.write_buffer(
            &self.eval_metrics.buffer,
            self.eval_metrics.offset,
            &zeros[..self.eval_metrics.bytes() as usize],
        );
        for start in (0..self.test_split.count).step_by(self.eval_rows) {
            self.test_split.set_cursor(start, 0);
            self.gpu.submit(&[plan]);
        }
    }

    /// The sharpness instruments (`crate::sharpness`) at the current weights, over the first
    /// `rows` test images (fewer when a wide network's activations and gradients would not fit the
    /// evaluation memory budget), with BatchNorm's running statistics frozen.
    pub fn probe(&self, rows: usize) -> Probe {
        let rows = rows
            .min(self.test_split.count)
            .min((EVAL_ACTIVATION_BUDGET / (3 * self.model.activations_per_sample)).max(1))
            .max(1);
        let (batch, load) = self.test_split.gather_plan(rows, &self.norm, None);
        self.test_split.set_cursor(0, 0);
        let state = self.running_statistics_view();
        Probe::new(&self.gpu, &self.model, &self.params, &state, batch, &load)
    }

    /// Loss and accuracy of the SWA average on the test split (None before averaging starts).
    pub async fn evaluate_average(&mut self) -> Result<Option<EvalMetrics>, TrainError> {
        let Some(view) = self.submit_average_evaluation() else {
            return Ok(None);
        };
        let acc = self.gpu.take_f32(&view).await?;
        Ok(Some(EvalMetrics::from_accumulator(&acc)))
    }

    /// Submits the recomputation of the SWA average's BatchNorm statistics over the training
    /// split (every full batch, in the current epoch's order); nothing without BatchNorm.
    fn submit_average_batch_norm(&self) {
        let Some(recompute) = &self.average_bn_plan else {
            return;
        };
        let rows = self.config.batch_size;
        let fresh = self.model.init_state();
        self.gpu
            .queue
            .write_buffer(&recompute.state.buffer, 0, bytemuck::cast_slice(&fresh));
        for batch in 0..self.train_split.count / rows {
            self.train_split.set_cursor(batch * rows, 0);
            let seen = [batch as u32, 0, 0, 0];
            self.gpu
                .queue
                .write_buffer(&recompute.seen.buffer, 0, bytemuck::cast_slice(&seen));
            self.gpu.submit(&[&recompute.plan]);
        }
    }

    /// The SWA average's own BatchNorm statistics, recomputed now (None without SWA or BatchNorm).
    pub async fn average_running_statistics(&self) -> Result<Option<Vec<f32>>, TrainError> {
        let Some(recompute) = &self.average_bn_plan else {
            return Ok(None);
        };
        self.submit_average_batch_norm();
        Ok(Some(self.gpu.read_f32(&recompute.state).await?))
    }

    /// Like `submit_evaluation`, for the SWA average; None when SWA is off or has not started.
    pub fn submit_average_evaluation(&mut self) -> Option<BufView> {
        if self.engine.averaged() == 0 {
            return None;
        }
        self.submit_average_batch_norm();
        self.submit_over_test_split(self.average_eval_plan.as_ref()?);
        Some(self.eval_metrics.clone())
    }

    /// The SWA running mean of the iterates (flat layout), if averaging has started.
    pub async fn average_weights(&self) -> Result<Option<Vec<f32>>, TrainError> {
        if self.engine.averaged() == 0 || self.config.swa_start.is_none() {
            return Ok(None);
        }
        Ok(Some(self.gpu.read_f32(&self.engine.average).await?))
    }

    /// The GPU view of BatchNorm's running statistics (the model's state layout).
    pub fn running_statistics_view(&self) -> BufView {
        self.engine.norm_state.clone()
    }

    /// The GPU view of the flat parameter vector.
    pub fn params_view(&self) -> BufView {
        self.params.clone()
    }

    /// The flat parameter vector (layout order, padding included).
    pub async fn weights(&self) -> Result<Vec<f32>, TrainError> {
        Ok(self.gpu.read_f32(&self.params).await?)
    }

    /// Replaces the weights and forgets the optimizer state.
    pub fn set_weights(&mut self, flat: &[f32]) -> Result<(), TrainError> {
        if flat.len() != self.params.len {
            return Err(TrainError::Config(format!(
                "weights have {} values, the model needs {}",
                flat.len(),
                self.params.len
            )));
        }
        self.gpu
            .queue
            .write_buffer(&self.params.buffer, 0, bytemuck::cast_slice(flat));
        self.engine.optimizer.reset_state();
        self.predictions_step = None;
        Ok(())
    }

    /// BatchNorm running statistics in the model's state layout (one 0 when there are none).
    pub async fn running_statistics(&self) -> Result<Vec<f32>, TrainError> {
        Ok(self.gpu.read_f32(&self.engine.norm_state).await?)
    }

    /// The weights, and for BatchNorm models the running statistics (with PyTorch's
    /// `num_batches_tracked` counters), as safetensors.
    pub async fn save_safetensors(&self) -> Result<Vec<u8>, TrainError> {
        let weights = self.weights().await?;
        let state = if self.model.has_batch_norm() {
            Some(self.gpu.read_f32(&self.engine.norm_state).await?)
        } else {
            None
        };
        // Running statistics are updated once per step (see StepEngine).
        Ok(checkpoint_bytes(&self.model, weights, state, self.step))
    }

    /// The SWA average as a checkpoint (with its recomputed BatchNorm statistics), or None when
    /// averaging is off or has not started.
    pub async fn save_average_safetensors(&self) -> Result<Option<Vec<u8>>, TrainError> {
        let Some(average) = self.average_weights().await? else {
            return Ok(None);
        };
        let state = self.average_running_statistics().await?;
        let batches = (self.train_split.count / self.config.batch_size) as u64;
        Ok(Some(checkpoint_bytes(&self.model, average, state, batches)))
    }

    /// Loads weights (and running statistics) saved by `save_safetensors` or by PyTorch.
    /// The weights (not the BatchNorm statistics) of a safetensors checkpoint of this model, flat in
    /// its layout (e.g. the other end of a landscape interpolation).
    pub fn weights_from_safetensors(&self, bytes: &[u8]) -> Result<Vec<f32>, TrainError> {
        let mut flat = checkpoint::from_safetensors(&self.model.checkpoint_layout(), bytes)?;
        flat.truncate(self.model.layout.total_len);
        Ok(flat)
    }

    pub fn load_safetensors(&mut self, bytes: &[u8]) -> Result<(), TrainError> {
        let mut flat = checkpoint::from_safetensors(&self.model.checkpoint_layout(), bytes)?;
        let state = flat.split_off(self.model.layout.total_len);
        if !state.is_empty() {
            self.gpu.queue.write_buffer(
                &self.engine.norm_state.buffer,
                0,
                bytemuck::cast_slice(&state),
            );
        }
        self.set_weights(&flat)
    }

    /// Forward/backward passes per step (1 for the base optimizer, 2 for SAM/ASAM).
    pub fn passes_per_step(&self) -> f64 {
        self.engine.passes_per_step()
    }
}
