//! `samlab train …` (native only): trains natively on wgpu (Vulkan/Metal/DX12), printing one JSON object per
//! evaluation on stdout and a progress bar plus a human summary on stderr. `samlab sharpness` and
//! `samlab landscape` (in `cli/probe.rs`, plots in `cli/plot.rs`) measure saved weights;
//! `samlab surface` (`cli/surface.rs`) steps SGD/SAM/ASAM on a 2-D loss surface.

mod plot;
mod probe;
mod reproduce;
mod surface;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Parser, Subcommand, ValueEnum};
use samlab::data::{cifar, Dataset};
use samlab::gpu::Gpu;
use samlab::optim::{OptimizerConfig, OptimizerKind, Schedule};
use samlab::sam::{SamConfig, SamKind};
use samlab::train::{checkpoint, ModelKind, TrainConfig, Trainer};

#[derive(Parser)]
#[command(
    name = "samlab",
    version,
    about = "Sharpness-aware minimization on WebGPU",
    allow_negative_numbers = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model and print metrics as JSON lines.
    #[command(allow_negative_numbers = true)]
    Train(Box<TrainArgs>),
    /// Measure the sharpness of saved weights (λ_max, tr(H), worst-case ρ-sharpness) and print
    /// one JSON object.
    #[command(allow_negative_numbers = true)]
    Sharpness(probe::SharpnessArgs),
    /// Evaluate the loss along a direction, on a plane or between two checkpoints, print one JSON
    /// object and optionally plot it as SVG.
    #[command(allow_negative_numbers = true)]
    Landscape(probe::LandscapeArgs),
    /// Run one of the seed papers' experiments over several seeds and write its table (Markdown),
    /// plot (SVG) and runs (JSON).
    Reproduce(reproduce::ReproduceArgs),
    /// SGD, SAM or ASAM on a 2-D loss surface (the page's "SAM in two dimensions"): one JSON object
    /// per step.
    #[command(allow_negative_numbers = true)]
    Surface(surface::SurfaceArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum OptimizerArg {
    Sgd,
    Adam,
    Adamw,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModelArg {
    Mlp,
    Lenet,
    TfjsConvnet,
    Resnet8,
}

/// The data set and model flags, shared by `train`, `sharpness` and `landscape` (a checkpoint
/// only loads into the model it was saved from, so the probes take the same flags).
#[derive(clap::Args)]
struct ModelArgs {
    /// `mnist` (the embedded 8,000/2,000 digits), `fashion-mnist`, `cifar10` (the official binary
    /// archive or its .bin batches in <data-dir>/cifar-10), or a directory with train-/t10k- IDX
    /// files (plain or .gz).
    #[arg(long, default_value = "mnist")]
    dataset: String,
    /// CIFAR-10 subset: this many training images per class (stratified, seeded); the test split
    /// keeps a fifth as many per class. Default: all.
    #[arg(long)]
    per_class: Option<usize>,
    /// Where `mnist` and `fashion-mnist` are looked up (default: $SAMLAB_DATA or ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// mlp, lenet (LeNet-5-style CNN), tfjs-convnet (the tfjs-examples MNIST convnet) or resnet8
    /// (with BatchNorm, for CIFAR-10).
    #[arg(long, value_enum, default_value = "mlp")]
    model: ModelArg,
    /// Dropout probability before the classifier (0 = none).
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// Hidden layer widths of the MLP, comma-separated.
    #[arg(long, default_value = "256,256", value_delimiter = ',')]
    hidden: Vec<usize>,
}

impl ModelArgs {
    fn kind(&self) -> ModelKind {
        match self.model {
            ModelArg::Mlp => ModelKind::Mlp,
            ModelArg::Lenet => ModelKind::Lenet,
            ModelArg::TfjsConvnet => ModelKind::TfjsConvnet,
            ModelArg::Resnet8 => ModelKind::Resnet8,
        }
    }
}

#[derive(clap::Args)]
struct TrainArgs {
    #[command(flatten)]
    data: ModelArgs,
    /// Random 4-pixel-padded crops and horizontal flips of training images (CIFAR-style).
    #[arg(long)]
    augment: bool,
    #[arg(long, value_enum, default_value = "sgd")]
    optimizer: OptimizerArg,
    /// none, sam, asam, asam-davda54, gsam, fsam, looksam, s2sam, crsam, sam-linf, msam, nstep,
    /// msharp, sampa, ssam, ssam-d, esam, rsam or mup2.
    #[arg(long, default_value = "none")]
    sam: String,
    /// Neighbourhood radius (default per mode: sam 0.05, asam 0.5, asam-davda54 2.0).
    #[arg(long)]
    rho: Option<f64>,
    /// ASAM's η (official form).
    #[arg(long)]
    eta: Option<f64>,
    /// GSAM's α (surrogate-gap weight) or LookSAM's α (reuse weight); default 0.2.
    #[arg(long)]
    alpha: Option<f64>,
    /// F-SAM's σ (default 1) and λ (EMA decay, default 0.95); R-SAM's noise σ (default 0.001,
    /// relative to each row's norm) and gradient step λ (default 2); SAMPa's λ (default 0.2).
    #[arg(long)]
    sigma: Option<f64>,
    #[arg(long)]
    lambda: Option<f64>,
    /// LookSAM's refresh period (default 5); SSAM's and SSAM-D's mask refresh period (default 100
    /// steps).
    #[arg(long)]
    k: Option<u32>,
    /// CR-SAM's γ (default 0.1) and β (default 0.01); ESAM's share of the batch in the second pass
    /// γ (default 0.5) and probability of perturbing a tensor β (default 0.5).
    #[arg(long)]
    gamma: Option<f64>,
    #[arg(long)]
    beta: Option<f64>,
    /// GSAM: ρ at the schedule's smallest learning rate (ρ follows lr linearly; default ρ).
    #[arg(long)]
    rho_min: Option<f64>,
    /// How ρ moves: constant, lr (follows the learning rate, GSAM's default) or warmup:STEPS.
    #[arg(long)]
    rho_schedule: Option<String>,
    /// Late-phase SAM: use the base optimizer alone for this fraction of the run, then switch to
    /// the SAM mode with a fresh optimizer state.
    #[arg(long)]
    sam_start: Option<f64>,
    /// n-step SAM: ascent steps per step (default 2; 1 is plain SAM).
    #[arg(long)]
    n: Option<u32>,
    /// SWA: average the weights after every step from this fraction of the run on (e.g. 0.75);
    /// adds swa_test_loss/swa_test_accuracy to each evaluation and --save writes the average.
    #[arg(long)]
    swa_start: Option<f64>,
    /// m-sharpness: rows per sub-batch (default 32; must divide --batch-size).
    #[arg(long)]
    m: Option<u32>,
    /// SSAM and SSAM-D: share of parameters left unperturbed (default 0.5).
    #[arg(long)]
    sparsity: Option<f64>,
    /// SSAM: samples (first rows of the batch) for the Fisher information (default 16).
    #[arg(long)]
    fisher_samples: Option<u32>,
    /// SSAM-D: share of the live parameters replaced at a refresh, decaying to 0 over the run
    /// (default 0.5).
    #[arg(long)]
    drop_rate: Option<f64>,
    /// μP²: the width at which ρ was tuned (default 64); layers are rescaled by width/base width.
    #[arg(long)]
    base_width: Option<u32>,
    /// Learning rate (default: 0.05 for sgd, 0.001 for adam/adamw).
    #[arg(long)]
    lr: Option<f64>,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    #[arg(long)]
    nesterov: bool,
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// constant, step:EPOCHS:GAMMA, or cosine[:WARMUP_STEPS].
    #[arg(long, default_value = "constant")]
    schedule: String,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, default_value_t = 2)]
    epochs: u32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Share of training labels replaced by a random other class, in [0, 1).
    #[arg(long, default_value_t = 0.0)]
    label_noise: f64,
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f64,
    /// Evaluate every N steps (0: once per epoch). Always evaluates at the end.
    #[arg(long, default_value_t = 0)]
    eval_every: u64,
    /// Start from these weights (safetensors with PyTorch names, e.g. 0.weight [out, in]).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Write the final weights here (safetensors, written atomically).
    #[arg(long)]
    save: Option<PathBuf>,
    /// Keep the file order instead of reshuffling each epoch.
    #[arg(long)]
    no_shuffle: bool,
    /// No progress bar or summary on stderr.
    #[arg(long)]
    quiet: bool,
}

pub fn main() -> ExitCode {
    std::env::set_var(
        "XDG_RUNTIME_DIR",
        std::env::var_os("XDG_RUNTIME_DIR").unwrap_or_else(|| std::env::temp_dir().into()),
    );
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let mut first = text
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ")
                .to_string();
            // clap lists missing arguments on the lines after the first; name them on it.
            if let (ErrorKind::MissingRequiredArgument, Some(ContextValue::Strings(missing))) =
                (e.kind(), e.get(ContextKind::InvalidArg))
            {
                first = format!("missing {}", missing.join(", "));
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                first =
                    "name a subcommand: train, sharpness, landscape, surface or reproduce".into();
            }
            eprintln!(
                "samlab: {first} (see `samlab{} --help`)",
                subcommand_named()
            );
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Train(args) => pollster::block_on(train(*args)),
        Command::Sharpness(args) => pollster::block_on(probe::sharpness(args)),
        Command::Landscape(args) => pollster::block_on(probe::landscape(args)),
        Command::Reproduce(args) => pollster::block_on(reproduce::reproduce(args)),
        Command::Surface(args) => pollster::block_on(surface::surface(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("samlab: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The subcommand on the command line, for the hint after a parse error (`train` when it is
/// misspelt or left out before train's flags, none when the command line is empty).
fn subcommand_named() -> &'static str {
    match std::env::args_os()
        .nth(1)
        .as_deref()
        .and_then(|a| a.to_str())
    {
        None => "",
        Some("sharpness") => " sharpness",
        Some("landscape") => " landscape",
        Some("reproduce") => " reproduce",
        Some("surface") => " surface",
        _ => " train",
    }
}

fn config_from(args: &TrainArgs) -> Result<TrainConfig, String> {
    let kind = match args.optimizer {
        OptimizerArg::Sgd => OptimizerKind::Sgd,
        OptimizerArg::Adam => OptimizerKind::Adam,
        OptimizerArg::Adamw => OptimizerKind::AdamW,
    };
    let default_lr = if kind == OptimizerKind::Sgd {
        0.05
    } else {
        0.001
    };
    let sam_kind = SamKind::parse(&args.sam)?;
    let config = TrainConfig {
        model: args.data.kind(),
        hidden: args.data.hidden.clone(),
        dropout: args.data.dropout,
        augment: args.augment,
        optimizer: OptimizerConfig {
            kind,
            lr: args.lr.unwrap_or(default_lr),
            momentum: if kind == OptimizerKind::Sgd {
                args.momentum
            } else {
                0.0
            },
            nesterov: args.nesterov,
            weight_decay: args.weight_decay,
            ..OptimizerConfig::default()
        },
        sam: SamConfig {
            kind: sam_kind,
            rho: args.rho,
            eta: args.eta,
            alpha: args.alpha,
            sigma: args.sigma,
            lambda: args.lambda,
            k: args.k,
            gamma: args.gamma,
            beta: args.beta,
            rho_min: args.rho_min,
            n: args.n,
            m: args.m,
            rho_schedule: args
                .rho_schedule
                .as_deref()
                .map(samlab::sam::RhoSchedule::parse)
                .transpose()?,
            start_fraction: args.sam_start,
            sparsity: args.sparsity,
            fisher_samples: args.fisher_samples,
            drop_rate: args.drop_rate,
            base_width: args.base_width,
        },
        schedule: Schedule::parse(&args.schedule)?,
        batch_size: args.batch_size,
        epochs: args.epochs,
        seed: args.seed,
        label_noise: args.label_noise,
        label_smoothing: args.label_smoothing,
        shuffle: !args.no_shuffle,
        eval_batch_size: 1000,
        swa_start: args.swa_start,
    };
    config.validate()?;
    if args.epochs == 0 {
        return Err("epochs must be ≥ 1".into());
    }
    Ok(config)
}

/// Loads `--dataset`: the embedded MNIST, Fashion-MNIST, CIFAR-10 or a directory of IDX files;
/// `seed` draws the CIFAR-10 subset of `--per-class`.
fn load_dataset(args: &ModelArgs, seed: u64) -> Result<Dataset, String> {
    let data_root = args
        .data_dir
        .clone()
        .or_else(|| std::env::var_os("SAMLAB_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"));
    if args.per_class.is_some() && args.dataset != "cifar10" {
        return Err("--per-class picks a CIFAR-10 subset; use it with --dataset cifar10".into());
    }
    let (name, dir) = match args.dataset.as_str() {
        "mnist" => {
            let dir = data_root.join("mnist");
            if !dir.is_dir() {
                return Err(format!("the embedded MNIST is not prepared in {} (run `npm run setup` in the samlab folder, or pass --data-dir)", dir.display()));
            }
            ("mnist".to_string(), dir)
        }
        "fashion-mnist" => {
            let local = data_root.join("fashion-mnist");
            let debian = Path::new("/usr/share/datasets/fashion-mnist");
            let dir = if local.is_dir() {
                local
            } else {
                debian.to_path_buf()
            };
            if !dir.is_dir() {
                return Err("Fashion-MNIST not found (on Debian: `apt-get install dataset-fashion-mnist`, or `npm run fetch-data -- --dataset fashion-mnist`)".into());
            }
            ("fashion-mnist".to_string(), dir)
        }
        "cifar10" => {
            let dir = data_root.join("cifar-10");
            let (mut train, mut test) = cifar::load_dir(&dir).map_err(|e| e.to_string())?;
            if let Some(per_class) = args.per_class {
                train = cifar::stratified_subset(&train, per_class, seed)
                    .map_err(|e| format!("training split: {e}"))?;
                test = cifar::stratified_subset(&test, (per_class / 5).max(1), seed)
                    .map_err(|e| format!("test split: {e}"))?;
            }
            return Ok(Dataset::new("cifar10", train, test, 10, [3, 32, 32]));
        }
        path => {
            let dir = PathBuf::from(path);
            if !dir.is_dir() {
                return Err(format!("--dataset {path:?} is neither mnist, fashion-mnist, cifar10 nor a directory of IDX files"));
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.to_string());
            (name, dir)
        }
    };
    Dataset::load_idx_dir(&name, &dir).map_err(|e| e.to_string())
}

/// Refuses an output file (`--save`, `--svg`) that cannot be written before any time is spent
/// computing it; `example` names a file the error suggests instead of a directory.
fn check_output_path(flag: &str, path: &Path, example: &str) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        return Err(format!(
            "cannot write {flag} {}: the directory {} does not exist",
            path.display(),
            dir.display()
        ));
    }
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {flag} {}: {} is a file, not a directory",
            path.display(),
            dir.display()
        ));
    }
    if path.is_dir() {
        return Err(format!(
            "cannot write {flag} {}: it is a directory; name a file such as {example}",
            path.display()
        ));
    }
    Ok(())
}

async fn train(args: TrainArgs) -> Result<(), String> {
    let config = config_from(&args)?;
    if let Some(path) = &args.save {
        check_output_path("--save", path, "weights.safetensors")?;
    }
    let dataset = load_dataset(&args.data, args.seed)?;
    let name = dataset.name.clone();
    let gpu = Gpu::new().await.map_err(|e| e.to_string())?;
    let mut trainer =
        Trainer::new(&gpu, config.clone(), &dataset, None).map_err(|e| e.to_string())?;
    if let Some(path) = &args.init {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read --init {}: {e}", path.display()))?;
        trainer
            .load_safetensors(&bytes)
            .map_err(|e| format!("--init {}: {e}", path.display()))?;
    }
    let total = trainer.total_steps();
    let eval_every = if args.eval_every == 0 {
        trainer.steps_per_epoch
    } else {
        args.eval_every
    };
    let progress = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps · {msg}")
            .expect("static template is valid"),
    );
    if !args.quiet {
        eprintln!(
            "samlab: {} ({} train / {} test) · {} · {} params · {:?}{} · {} on {}",
            name,
            dataset.train.count,
            dataset.test.count,
            trainer.model.summary,
            trainer.model.layout.parameter_count(),
            config.optimizer.kind,
            match config.sam.kind {
                SamKind::None => String::new(),
                kind => format!(" + {} ρ={}", kind.name(), config.sam.rho()),
            },
            total,
            gpu.adapter_name()
        );
    }
    let mut window_start = Instant::now();
    let mut window_samples = 0u64;
    let mut last = None;
    while trainer.step < total {
        trainer.step();
        window_samples += config.batch_size as u64;
        progress.inc(1);
        if trainer.step % eval_every != 0 && trainer.step != total {
            continue;
        }
        let lr = trainer.learning_rate();
        let train_metrics = trainer
            .take_train_metrics()
            .await
            .map_err(|e| e.to_string())?;
        let test = trainer.evaluate().await.map_err(|e| e.to_string())?;
        let seconds = window_start.elapsed().as_secs_f64();
        let record = serde_json::json!({
            "step": trainer.step,
            "epoch": trainer.epoch(),
            "lr": lr,
            "train_loss": train_metrics.loss,
            "train_accuracy": train_metrics.accuracy,
            "test_loss": test.loss,
            "test_accuracy": test.accuracy,
            "sharpness": train_metrics.sharpness,
            "grad_norm": train_metrics.grad_norm,
            "cos_g0_g1": train_metrics.cos_g0_g1,
            "samples_per_s": window_samples as f64 / seconds.max(1e-9),
            "passes_per_step": trainer.passes_per_step(),
        });
        let mut record = record;
        if let Some(average) = trainer
            .evaluate_average()
            .await
            .map_err(|e| e.to_string())?
        {
            record["swa_test_loss"] = average.loss.into();
            record["swa_test_accuracy"] = average.accuracy.into();
        }
        println!("{record}");
        progress.set_message(format!("test acc {:.2}%", 100.0 * test.accuracy));
        if train_metrics.nonfinite_steps > 0 || !train_metrics.loss.is_finite() {
            progress.abandon();
            return Err(format!(
                "training diverged by step {}: the loss or gradient became NaN/Inf; lower --lr (now {}){}",
                trainer.step,
                config.optimizer.lr,
                if config.sam.kind == SamKind::None { String::new() } else { format!(" or --rho (now {})", config.sam.rho()) }
            ));
        }
        last = Some((train_metrics, test));
        window_start = Instant::now();
        window_samples = 0;
    }
    progress.finish_and_clear();
    if let Some(path) = &args.save {
        // With SWA the average is the model the run produces; otherwise the final weights (with
        // BatchNorm's running statistics in both cases).
        let bytes = match trainer
            .save_average_safetensors()
            .await
            .map_err(|e| e.to_string())?
        {
            Some(average) => average,
            None => trainer
                .save_safetensors()
                .await
                .map_err(|e| e.to_string())?,
        };
        checkpoint::write_atomically(path, &bytes)
            .map_err(|e| format!("cannot write --save {}: {e}", path.display()))?;
    }
    if let (Some((train, test)), false) = (last, args.quiet) {
        eprintln!(
            "samlab: done after {} steps ({:.2} epochs): train acc {:.2}%, test acc {:.2}%, test loss {:.4}{}",
            trainer.step,
            trainer.epoch(),
            100.0 * train.accuracy,
            100.0 * test.accuracy,
            test.loss,
            args.save.as_ref().map(|p| format!(", weights in {}", p.display())).unwrap_or_default()
        );
    }
    Ok(())
}
