//! `samlab sharpness` and `samlab landscape`: load a checkpoint into a trainer built from the same
//! data set and model flags as `train`, run `samlab::sharpness` over the first `--rows` test images
//! (BatchNorm frozen, dropout off) and print one JSON object on stdout, a summary on stderr.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::ValueEnum;
use samlab::gpu::Gpu;
use samlab::sharpness::{
    self, LandscapeKind, LandscapeReport, LandscapeRequest, SharpnessReport, SharpnessRequest,
};
use samlab::train::{checkpoint, TrainConfig, Trainer};

use super::{check_output_path, load_dataset, plot, ModelArgs};

#[derive(clap::Args)]
pub struct SharpnessArgs {
    /// The weights to measure (safetensors, as `train --save` writes them).
    #[arg(long)]
    weights: PathBuf,
    #[command(flatten)]
    data: ModelArgs,
    /// Rows of the fixed batch: the first N test images (at most the test split).
    #[arg(long, default_value_t = SharpnessRequest::default().rows)]
    rows: usize,
    /// Top eigenvalues of the Hessian by power iteration (default 1; 0: none). With none of
    /// --top, --trace-samples and --rho: λ_max and tr(H) from 10 samples.
    #[arg(long)]
    top: Option<usize>,
    /// Power-iteration cap per eigenvalue.
    #[arg(long, default_value_t = SharpnessRequest::default().max_iterations)]
    iterations: u32,
    /// Stop power iteration when the estimate moves by at most this share.
    #[arg(long, default_value_t = SharpnessRequest::default().tolerance)]
    tolerance: f64,
    /// Rademacher samples for Hutchinson's tr(H) (default 0, or 10 when none of --top,
    /// --trace-samples and --rho is given; 0: none).
    #[arg(long)]
    trace_samples: Option<u32>,
    /// Worst-case ρ-sharpness max_{‖δ‖≤ρ} L(w+δ) − L(w) (0: none).
    #[arg(long)]
    rho: Option<f64>,
    /// Projected ascent steps of the worst-case search.
    #[arg(long, default_value_t = SharpnessRequest::default().ascent_steps)]
    ascent_steps: u32,
    /// With --rho: also the adaptive (ASAM) form, in the ball ‖δ/(|w|+η)‖ ≤ ρ.
    #[arg(long)]
    eta: Option<f64>,
    /// Seeds the random start vectors (and draws the --per-class CIFAR-10 subset, as in train).
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Finite-difference step of the Hessian-vector products (default 1e-3·‖w‖/√P).
    #[arg(long)]
    step: Option<f64>,
    /// Measure the same function reparametrised: an MLP's first layer (weight and bias) times
    /// this, the next layer's weight divided by it (ASAM's scale-invariance test).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// No summary on stderr.
    #[arg(long)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Line,
    Plane,
    Interpolation,
}

#[derive(clap::Args)]
pub struct LandscapeArgs {
    /// The weights at the centre of the slice (t = 0 of an interpolation).
    #[arg(long)]
    weights: PathBuf,
    /// A second checkpoint of the same model: the slice runs from --weights (t = 0) to it (t = 1).
    #[arg(long)]
    against: Option<PathBuf>,
    #[command(flatten)]
    data: ModelArgs,
    /// line (one filter-normalised direction), plane (two) or interpolation (needs --against;
    /// the default with it).
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Points per axis (2 to 1001; 2 to 101 for a plane).
    #[arg(long, default_value_t = LandscapeRequest::default().points)]
    points: usize,
    /// α (and β) run over [−span, span]; t over [−span/2, 1 + span/2].
    #[arg(long, default_value_t = LandscapeRequest::default().span)]
    span: f64,
    /// Rows of the fixed batch: the first N test images (at most the test split).
    #[arg(long, default_value_t = LandscapeRequest::default().rows)]
    rows: usize,
    /// Seeds the random directions (and draws the --per-class CIFAR-10 subset, as in train).
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Also plot the slice here (SVG, written atomically): loss and accuracy against α or t, or a
    /// heatmap with contour lines for a plane.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// No summary on stderr.
    #[arg(long)]
    quiet: bool,
}

/// The request's keys (as `validate` spells them) and the flags that set them.
const FLAGS: &[(&str, &str)] = &[
    ("maxIterations", "--iterations"),
    ("traceSamples", "--trace-samples"),
    ("ascentSteps", "--ascent-steps"),
    ("rows", "--rows"),
    ("top", "--top"),
    ("tolerance", "--tolerance"),
    ("rho", "--rho"),
    ("eta", "--eta"),
    ("step", "--step"),
    ("scale", "--scale"),
    ("points", "--points"),
    ("span", "--span"),
];

/// A `validate` message with the request's key replaced by its flag ("points must be …" →
/// "--points must be …").
fn flag_message(message: String) -> String {
    for (key, flag) in FLAGS {
        if let Some(rest) = message.strip_prefix(key) {
            if rest.starts_with(' ') {
                return format!("{flag}{rest}");
            }
        }
    }
    message
}

fn sharpness_request(args: &SharpnessArgs) -> Result<SharpnessRequest, String> {
    let defaults = SharpnessRequest::default();
    let none_named = args.top.is_none() && args.trace_samples.is_none() && args.rho.is_none();
    let request = SharpnessRequest {
        rows: args.rows,
        top: args.top.unwrap_or(defaults.top),
        max_iterations: args.iterations,
        tolerance: args.tolerance,
        trace_samples: match args.trace_samples {
            Some(samples) => samples,
            None if none_named => 10,
            None => defaults.trace_samples,
        },
        rho: args.rho.unwrap_or(defaults.rho),
        ascent_steps: args.ascent_steps,
        eta: args.eta,
        seed: args.seed,
        step: args.step,
        scale: args.scale,
    };
    request.validate().map_err(flag_message)?;
    if request.eta.is_some() && request.rho == 0.0 {
        return Err("--eta sets the adaptive worst case, which needs --rho > 0 as well".into());
    }
    if request.top == 0 && request.trace_samples == 0 && request.rho == 0.0 {
        return Err(
            "nothing to measure: --top, --trace-samples and --rho are all 0 (set one of them)"
                .into(),
        );
    }
    Ok(request)
}

fn landscape_request(args: &LandscapeArgs) -> Result<LandscapeRequest, String> {
    let kind = match (args.kind, &args.against) {
        (None | Some(KindArg::Interpolation), Some(_)) => LandscapeKind::Interpolation,
        (Some(KindArg::Line), Some(_)) | (Some(KindArg::Plane), Some(_)) => {
            let name = if matches!(args.kind, Some(KindArg::Line)) {
                "line"
            } else {
                "plane"
            };
            return Err(format!(
                "--kind {name} cannot be used with --against: --against draws the interpolation between the two checkpoints; drop one of them"
            ));
        }
        (Some(KindArg::Interpolation), None) => {
            return Err("--kind interpolation needs --against FILE, the checkpoint at t = 1".into())
        }
        (None | Some(KindArg::Line), None) => LandscapeKind::Line,
        (Some(KindArg::Plane), None) => LandscapeKind::Plane,
    };
    let request = LandscapeRequest {
        rows: args.rows,
        kind,
        points: args.points,
        span: args.span,
        seed: args.seed,
    };
    request.validate().map_err(flag_message)?;
    Ok(request)
}

/// Prints the one JSON object on stdout (an error, not a panic, when stdout is closed).
fn print_record(record: &serde_json::Value) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{record}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the report to stdout: {e}"))
}

/// Reads a checkpoint file, naming the flag in the error.
fn read_weights(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    if path.is_dir() {
        return Err(format!(
            "cannot read {flag} {}: it is a directory, not a safetensors file",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {flag} {}: {e}", path.display()))
}

/// A trainer of the model the flags describe, holding the weights (and BatchNorm statistics) of
/// the checkpoint `bytes`.
async fn trainer_with(
    data: &ModelArgs,
    seed: u32,
    path: &Path,
    bytes: &[u8],
) -> Result<(Trainer, Arc<Gpu>, String), String> {
    let dataset = load_dataset(data, seed as u64)?;
    let config = TrainConfig {
        model: data.kind(),
        hidden: data.hidden.clone(),
        dropout: data.dropout,
        // Only the model's shape matters here; a batch no larger than the training split keeps
        // small data sets loadable.
        batch_size: TrainConfig::default()
            .batch_size
            .min(dataset.train.count)
            .max(1),
        seed: seed as u64,
        ..TrainConfig::default()
    };
    let gpu = Gpu::new().await.map_err(|e| e.to_string())?;
    let mut trainer = Trainer::new(&gpu, config, &dataset, None).map_err(|e| e.to_string())?;
    trainer
        .load_safetensors(bytes)
        .map_err(|e| format!("--weights {}: {e}", path.display()))?;
    Ok((trainer, gpu, dataset.name))
}

/// `samlab sharpness`.
pub async fn sharpness(args: SharpnessArgs) -> Result<(), String> {
    let request = sharpness_request(&args)?;
    let bytes = read_weights("--weights", &args.weights)?;
    let (trainer, gpu, name) = trainer_with(&args.data, args.seed, &args.weights, &bytes).await?;
    let start = Instant::now();
    let mut probe = trainer.probe(request.rows);
    let factors = sharpness::layer_rescaling(&trainer.model, request.scale)?;
    probe.rescale(&factors).await.map_err(|e| e.to_string())?;
    let report = sharpness::measure(&mut probe, &request)
        .await
        .map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    if !report.loss.is_finite() {
        return Err(format!(
            "the loss of --weights {} on these rows is not finite ({}); the weights hold NaN/Inf or do not fit this data",
            args.weights.display(),
            report.loss
        ));
    }
    let mut record = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    record["weights"] = args.weights.display().to_string().into();
    record["seconds"] = seconds.into();
    print_record(&record)?;
    if !args.quiet {
        eprintln!(
            "samlab: {} · {} ({} params) · {}",
            name,
            trainer.model.summary,
            trainer.model.layout.parameter_count(),
            sharpness_summary(&report, &request, seconds, &gpu.adapter_name())
        );
    }
    Ok(())
}

/// Notes that `--rows` was capped (by the test split, or the activation memory of one batch).
fn capped(rows: usize, asked: usize) -> String {
    if rows < asked {
        format!(" (--rows {asked} capped by the test split or memory)")
    } else {
        String::new()
    }
}

fn sharpness_summary(
    report: &SharpnessReport,
    request: &SharpnessRequest,
    seconds: f64,
    adapter: &str,
) -> String {
    let mut parts = vec![format!(
        "{} test images{}: loss {:.4}, acc {:.2}%",
        report.rows,
        capped(report.rows, request.rows),
        report.loss,
        100.0 * report.accuracy
    )];
    for (i, eigen) in report.eigenvalues.iter().enumerate() {
        parts.push(format!(
            "λ{} {:.4} ({} iterations{})",
            i + 1,
            eigen.value,
            eigen.iterations,
            if eigen.converged {
                ""
            } else {
                ", not converged"
            }
        ));
    }
    if let Some(trace) = &report.trace {
        parts.push(format!(
            "tr(H) {:.4} ± {:.4} ({} samples)",
            trace.value, trace.std_error, trace.samples
        ));
    }
    if let Some(worst) = report.worst_case {
        parts.push(format!("ρ = {} worst case {:.6}", request.rho, worst));
    }
    if let (Some(adaptive), Some(eta)) = (report.adaptive_worst_case, request.eta) {
        parts.push(format!("adaptive (η = {eta}) {adaptive:.6}"));
    }
    parts.push(format!(
        "{} gradients in {:.2} s on {}",
        report.gradients, seconds, adapter
    ));
    parts.join(" · ")
}

/// `samlab landscape`.
pub async fn landscape(args: LandscapeArgs) -> Result<(), String> {
    let request = landscape_request(&args)?;
    if let Some(path) = &args.svg {
        check_output_path("--svg", path, "landscape.svg")?;
    }
    let bytes = read_weights("--weights", &args.weights)?;
    let other_bytes = match &args.against {
        Some(path) => Some(read_weights("--against", path)?),
        None => None,
    };
    let (trainer, gpu, name) = trainer_with(&args.data, args.seed, &args.weights, &bytes).await?;
    let other = match (&args.against, &other_bytes) {
        (Some(path), Some(bytes)) => Some(
            trainer
                .weights_from_safetensors(bytes)
                .map_err(|e| format!("--against {}: {e}", path.display()))?,
        ),
        _ => None,
    };
    let start = Instant::now();
    let mut probe = trainer.probe(request.rows);
    let report = sharpness::landscape(&mut probe, &request, other.as_deref()).await?;
    let seconds = start.elapsed().as_secs_f64();
    if let Some(path) = &args.svg {
        let svg = plot::landscape_svg(&report, &plot_title(&args, &name))?;
        checkpoint::write_atomically(path, svg.as_bytes())
            .map_err(|e| format!("cannot write --svg {}: {e}", path.display()))?;
    }
    let mut record = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    record["weights"] = args.weights.display().to_string().into();
    if let Some(path) = &args.against {
        record["against"] = path.display().to_string().into();
    }
    if let Some(path) = &args.svg {
        record["svg"] = path.display().to_string().into();
    }
    record["seconds"] = seconds.into();
    print_record(&record)?;
    if !args.quiet {
        eprintln!(
            "samlab: {} · {} · {}",
            name,
            trainer.model.summary,
            landscape_summary(&report, request.rows, seconds, &gpu.adapter_name())
        );
    }
    Ok(())
}

fn plot_title(args: &LandscapeArgs, dataset: &str) -> String {
    let file = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string())
    };
    match &args.against {
        Some(other) => format!("{} → {} ({dataset})", file(&args.weights), file(other)),
        None => format!("{} ({dataset})", file(&args.weights)),
    }
}

fn landscape_summary(
    report: &LandscapeReport,
    asked_rows: usize,
    seconds: f64,
    adapter: &str,
) -> String {
    let values: Vec<f64> = report
        .loss
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let kind = match report.kind {
        LandscapeKind::Line => "line",
        LandscapeKind::Plane => "plane",
        LandscapeKind::Interpolation => "interpolation",
    };
    let count = report.loss.iter().map(Vec::len).sum::<usize>();
    let range = if values.is_empty() {
        "no finite loss".to_string()
    } else {
        format!("loss {min:.4} to {max:.4}")
    };
    let skipped = count - values.len();
    format!(
        "{kind} of {count} points over {} test images{}: {range}{} · {seconds:.2} s on {adapter}",
        report.rows,
        capped(report.rows, asked_rows),
        if skipped > 0 {
            format!(" ({skipped} not finite)")
        } else {
            String::new()
        }
    )
}
