//! `samlab reproduce NAME`: the seed papers' claims as experiments. Each experiment is a grid of
//! cells (a data set and a training config) run over several seeds; it writes a Markdown table
//! (mean ± standard deviation over the seeds, with the seeds and the command), an SVG plot and
//! the raw per-run results as JSON into `--out` (docs/reproductions.md collects the tables).
//!
//! Every run is an ordinary `Trainer` run, evaluated on the whole test split every epoch; "best"
//! is the best of those evaluations, "final" the last.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use clap::ValueEnum;
use plotters::prelude::*;
use samlab::data::{cifar, Dataset, GpuSplit, Shift, Split};
use samlab::gpu::Gpu;
use samlab::optim::{OptimizerConfig, OptimizerKind};
use samlab::sam::{SamConfig, SamKind};
use samlab::sharpness::{self, SharpnessRequest};
use samlab::train::{ModelKind, TrainConfig, Trainer};

use super::{load_dataset, ModelArg, ModelArgs};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Experiment {
    /// SGD vs SAM vs ASAM at 0/20/40/60% symmetric label noise (MNIST, Fashion-MNIST subset).
    LabelNoise,
    /// Test accuracy against ρ for SAM and ASAM (Fashion-MNIST subset).
    RhoSweep,
    /// Late-phase SAM (the last half, the last fifth) against full SAM and SGD.
    LatePhase,
    /// λ_max and tr(H) over training, SGD vs SAM.
    Curvature,
    /// Accuracy against cost (gradient evaluations, seconds) for the efficient variants.
    Efficiency,
    /// m-sharpness: SAM's perturbation per sub-batch of m rows, m from 8 to the batch.
    MSharpness,
    /// ASAM's scale invariance: rescale a ReLU layer by a and the next by 1/a.
    AsamInvariance,
    /// One pass over many images against many epochs on 500.
    Repetition,
    /// Out-of-distribution: train on clean MNIST, test on rotated, noisy, blurred and
    /// low-contrast digits made on the GPU (MNIST-C style), SGD vs SAM.
    Ood,
    /// Gradual domain adaptation on rotating MNIST: self-training through 15°, 30°, 45° to 60°
    /// (pseudo-labels from the model itself), SGD vs SAM.
    GradualDa,
}

impl Experiment {
    fn name(self) -> &'static str {
        match self {
            Experiment::LabelNoise => "label-noise",
            Experiment::RhoSweep => "rho-sweep",
            Experiment::LatePhase => "late-phase",
            Experiment::Curvature => "curvature",
            Experiment::Efficiency => "efficiency",
            Experiment::MSharpness => "m-sharpness",
            Experiment::AsamInvariance => "asam-invariance",
            Experiment::Repetition => "repetition",
            Experiment::Ood => "ood",
            Experiment::GradualDa => "gradual-da",
        }
    }
}

#[derive(clap::Args)]
pub struct ReproduceArgs {
    /// The experiment (see `samlab reproduce --help` for the list).
    #[arg(value_enum)]
    experiment: Experiment,
    /// Seeds per cell: 0, 1, …, N−1 (each seed sets the initial weights, the batch order and the
    /// label noise).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Directory for NAME.md (the table), NAME.svg (the plot) and NAME.json (every run).
    #[arg(long, default_value = "docs/reproductions")]
    out: PathBuf,
    /// Small and short runs (a fifth of the epochs, at most 2,000 training images): a first look,
    /// and what the tests run. The tables say so.
    #[arg(long)]
    quick: bool,
    /// Where `mnist` and `fashion-mnist` are looked up (default: $SAMLAB_DATA or ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The network: `mlp` (784-128-10, what docs/reproductions.md reports unless it names
    /// another) or a CNN (`lenet`, `tfjs-convnet`) with the same optimizer settings; the files
    /// are then NAME-MODEL.md/.svg/.json. asam-invariance rescales an MLP's layers: MLP only.
    #[arg(long, value_enum, default_value = "mlp")]
    model: ModelArg,
    /// Keep the runs already in OUT/NAME.json (a stopped run's partial file, same command) and run
    /// only the missing ones.
    #[arg(long)]
    resume: bool,
}

/// Which data a cell trains on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Data {
    /// The embedded MNIST (8,000 train / 2,000 test).
    Mnist,
    /// Fashion-MNIST, a stratified subset of 800 train and 200 test images per class.
    FashionSubset,
    /// Fashion-MNIST, this many training images (stratified); the test subset as above.
    FashionTrain(usize),
}

impl Data {
    fn label(self) -> String {
        match self {
            Data::Mnist => "MNIST".into(),
            Data::FashionSubset => "Fashion-MNIST".into(),
            Data::FashionTrain(n) => format!("Fashion-MNIST, {n} images"),
        }
    }
}

/// One cell of an experiment: `row` × `column` of the table, `x` for the plot.
#[derive(Clone)]
struct Cell {
    row: String,
    column: String,
    x: f64,
    data: Data,
    config: TrainConfig,
}

/// One evaluation of one run.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Point {
    step: u64,
    epoch: f64,
    gradient_evaluations: f64,
    seconds: f64,
    test_accuracy: f64,
    test_loss: f64,
    train_accuracy: f64,
    lambda_max: Option<f64>,
    trace: Option<f64>,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct RunResult {
    row: String,
    column: String,
    x: f64,
    seed: u64,
    final_accuracy: f64,
    best_accuracy: f64,
    seconds: f64,
    gradient_evaluations: f64,
    points: Vec<Point>,
}

/// Mean and sample standard deviation (0 for one value).
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn momentum_sgd(lr: f64) -> OptimizerConfig {
    OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr,
        momentum: 0.9,
        ..OptimizerConfig::default()
    }
}

fn sam(kind: &str, rho: f64) -> SamConfig {
    let mut config = SamConfig::new(SamKind::parse(kind).expect("experiment modes are known"));
    if kind != "none" {
        config.rho = Some(rho);
    }
    config
}

/// The base config of every experiment: MLP 784-128-10, momentum SGD at lr 0.05, batch 128.
fn base(epochs: u32) -> TrainConfig {
    TrainConfig {
        model: ModelKind::Mlp,
        hidden: vec![128],
        optimizer: momentum_sgd(0.05),
        batch_size: 128,
        epochs,
        ..TrainConfig::default()
    }
}

fn with_sam(mut config: TrainConfig, sam_config: SamConfig) -> TrainConfig {
    config.sam = sam_config;
    config
}

/// The three arms the classic comparisons use: SGD (momentum), SAM ρ = 0.05, ASAM ρ = 0.5.
fn classic_arms(config: &TrainConfig) -> Vec<(String, TrainConfig)> {
    vec![
        ("SGD".into(), with_sam(config.clone(), sam("none", 0.0))),
        (
            "SAM ρ=0.05".into(),
            with_sam(config.clone(), sam("sam", 0.05)),
        ),
        (
            "ASAM ρ=0.5".into(),
            with_sam(config.clone(), sam("asam", 0.5)),
        ),
    ]
}

/// The cells of a training experiment (all but asam-invariance), and what its table and plot show.
struct Plan {
    cells: Vec<Cell>,
    claim: &'static str,
    source: &'static str,
    x_label: &'static str,
    log_x: bool,
    /// Measure λ_max and tr(H) at every evaluation.
    curvature: bool,
}

fn plan(experiment: Experiment, quick: bool) -> Plan {
    let epochs = |full: u32| if quick { (full / 5).max(1) } else { full };
    let mut cells = Vec::new();
    let mut push = |row: String, column: String, x: f64, data: Data, config: TrainConfig| {
        cells.push(Cell {
            row,
            column,
            x,
            data,
            config,
        });
    };
    match experiment {
        Experiment::LabelNoise => {
            for data in [Data::Mnist, Data::FashionSubset] {
                for noise in [0.0, 0.2, 0.4, 0.6] {
                    let mut config = base(epochs(20));
                    config.label_noise = noise;
                    for (arm, config) in classic_arms(&config) {
                        push(
                            format!("{} · {:.0}% noise", data.label(), noise * 100.0),
                            arm,
                            noise * 100.0,
                            data,
                            config,
                        );
                    }
                }
            }
            Plan {
                cells,
                claim: "SAM is markedly more robust to label noise than SGD (Foret et al. 2021, Table 4: CIFAR-10 with 20–80% noise, SAM beats SGD by 1–20 points, most at high noise).",
                source: "Foret et al., ICLR 2021, §3.3",
                x_label: "label noise (%)",
                log_x: false,
                curvature: false,
            }
        }
        Experiment::RhoSweep => {
            for rho in [0.01, 0.02, 0.05, 0.1, 0.2, 0.5] {
                push(
                    format!("ρ = {rho}"),
                    "SAM".into(),
                    rho,
                    Data::FashionSubset,
                    with_sam(base(epochs(10)), sam("sam", rho)),
                );
            }
            for rho in [0.1, 0.2, 0.5, 1.0, 2.0, 5.0] {
                push(
                    format!("ρ = {rho}"),
                    "ASAM".into(),
                    rho,
                    Data::FashionSubset,
                    with_sam(base(epochs(10)), sam("asam", rho)),
                );
            }
            Plan {
                cells,
                claim: "Accuracy peaks at an intermediate ρ; ASAM's best ρ is about ten times SAM's (Kwon et al. 2021 use ρ = 0.5 vs SAM's 0.05).",
                source: "Foret et al. 2021 (ρ grid {0.01, 0.02, 0.05, 0.1, 0.2, 0.5}); Kwon et al., ICML 2021",
                x_label: "ρ",
                log_x: true,
                curvature: false,
            }
        }
        Experiment::LatePhase => {
            let config = base(epochs(10));
            push(
                "SGD".into(),
                "test accuracy".into(),
                0.0,
                Data::FashionSubset,
                with_sam(config.clone(), sam("none", 0.0)),
            );
            for start in [0.8, 0.5] {
                let mut late = sam("sam", 0.05);
                late.start_fraction = Some(start);
                push(
                    format!("SAM from {:.0}% of the run", start * 100.0),
                    "test accuracy".into(),
                    1.0 - start,
                    Data::FashionSubset,
                    with_sam(config.clone(), late),
                );
            }
            push(
                "SAM throughout".into(),
                "test accuracy".into(),
                1.0,
                Data::FashionSubset,
                with_sam(config, sam("sam", 0.05)),
            );
            Plan {
                cells,
                claim: "SAM applied only in the late phase of training generalises about as well as SAM throughout, at a fraction of its cost.",
                source: "Zhou et al., ICLR 2025 (late-phase SAM)",
                x_label: "share of the run with SAM",
                log_x: false,
                curvature: false,
            }
        }
        Experiment::Curvature => {
            for (arm, config) in classic_arms(&base(epochs(10))).into_iter().take(2) {
                push(
                    arm.clone(),
                    "end of training".into(),
                    0.0,
                    Data::Mnist,
                    config,
                );
            }
            Plan {
                cells,
                claim: "SAM converges to flatter minima: lower λ_max and tr(H) of the loss's Hessian than SGD (here measured on the first 512 test images, at the end of training).",
                source: "Foret et al. 2021 (Hessian spectra, §4.2); Andriushchenko & Flammarion, ICML 2022",
                x_label: "epoch",
                log_x: false,
                curvature: true,
            }
        }
        Experiment::Efficiency => {
            let config = base(epochs(10));
            let mut arms: Vec<(&str, SamConfig)> =
                vec![("SGD", sam("none", 0.0)), ("SAM", sam("sam", 0.05))];
            let mut looksam = sam("looksam", 0.3);
            looksam.k = Some(5);
            arms.push(("LookSAM k=5", looksam));
            arms.push(("MSAM", sam("msam", 0.3)));
            arms.push(("S2-SAM", sam("s2sam", 0.05)));
            arms.push(("ESAM", sam("esam", 0.05)));
            arms.push(("SAMPa", sam("sampa", 0.1)));
            for (i, (name, sam_config)) in arms.into_iter().enumerate() {
                push(
                    name.into(),
                    "test accuracy".into(),
                    i as f64,
                    Data::FashionSubset,
                    with_sam(config.clone(), sam_config),
                );
            }
            Plan {
                cells,
                claim: "The efficient variants (LookSAM, MSAM, S2-SAM, ESAM, SAMPa) reach most of SAM's accuracy at close to SGD's cost in gradient evaluations.",
                source: "Liu et al. CVPR 2022; Becker et al. 2024; Ji et al. NeurIPS 2024; Du et al. ICLR 2022; Xie et al. 2024",
                x_label: "gradient evaluations",
                log_x: false,
                curvature: false,
            }
        }
        Experiment::MSharpness => {
            let config = base(epochs(10));
            for m in [8u32, 16, 32, 64] {
                let mut s = sam("msharp", 0.05);
                s.m = Some(m);
                push(
                    format!("m = {m}"),
                    "test accuracy".into(),
                    m as f64,
                    Data::FashionSubset,
                    with_sam(config.clone(), s),
                );
            }
            push(
                "m = 128 (SAM)".into(),
                "test accuracy".into(),
                128.0,
                Data::FashionSubset,
                with_sam(config, sam("sam", 0.05)),
            );
            Plan {
                cells,
                claim: "Smaller m (the perturbation computed per sub-batch of m examples) generalises better; m = batch is plain SAM.",
                source: "Foret et al. 2021 §4.1; Andriushchenko & Flammarion, ICML 2022",
                x_label: "m",
                log_x: true,
                curvature: false,
            }
        }
        Experiment::Repetition => {
            let one_pass = Data::FashionTrain(if quick { 2000 } else { 20_000 });
            let small = Data::FashionTrain(500);
            for (data, epochs_here, row) in [
                (one_pass, 1, "one pass"),
                (small, if quick { 8 } else { 40 }, "500 images, repeated"),
            ] {
                let mut config = base(epochs_here);
                config.batch_size = 128;
                for (arm, config) in classic_arms(&config).into_iter().take(2) {
                    push(
                        format!("{row} ({})", data.label()),
                        arm,
                        if row == "one pass" { 0.0 } else { 1.0 },
                        data,
                        config,
                    );
                }
            }
            Plan {
                cells,
                claim: "SAM's gain appears when examples are seen many times; in a single pass over fresh data it brings little (the seed's note).",
                source: "the seed's notes; Andriushchenko & Flammarion 2022 discuss SAM in the one-pass regime",
                x_label: "regime (0: one pass, 1: repeated)",
                log_x: false,
                curvature: false,
            }
        }
        Experiment::AsamInvariance | Experiment::Ood | Experiment::GradualDa => {
            unreachable!("not a training grid")
        }
    }
}

/// Loads (and caches) the data of a cell.
struct DataCache {
    args: ModelArgs,
    quick: bool,
    loaded: Vec<(Data, Dataset)>,
}

impl DataCache {
    fn get(&mut self, data: Data) -> Result<&Dataset, String> {
        if let Some(i) = self.loaded.iter().position(|(d, _)| *d == data) {
            return Ok(&self.loaded[i].1);
        }
        let mut args = ModelArgs {
            ..self.args.clone_args()
        };
        args.dataset = match data {
            Data::Mnist => "mnist".into(),
            _ => "fashion-mnist".into(),
        };
        let mut dataset = load_dataset(&args, 0)?;
        // Subsets are stratified and drawn with seed 0 for every run (the run's seed then
        // changes the initial weights, the batch order and the label noise only).
        let label = data.label();
        let subset = |split: &Split, per_class: usize| -> Result<Split, String> {
            cifar::stratified_subset(split, per_class, 0).map_err(|e| format!("{label}: {e}"))
        };
        match data {
            Data::Mnist => {}
            Data::FashionSubset => {
                dataset.train = subset(&dataset.train, 800)?;
                dataset.test = subset(&dataset.test, 200)?;
            }
            Data::FashionTrain(n) => {
                dataset.train = subset(&dataset.train, n / 10)?;
                dataset.test = subset(&dataset.test, 200)?;
            }
        }
        if self.quick && dataset.train.count > 2000 && !matches!(data, Data::FashionTrain(_)) {
            dataset.train = subset(&dataset.train, 200)?;
            dataset.test = subset(&dataset.test, 100)?;
        }
        self.loaded.push((data, dataset));
        Ok(&self.loaded.last().expect("just pushed").1)
    }
}

impl ModelArgs {
    fn clone_args(&self) -> ModelArgs {
        ModelArgs {
            dataset: self.dataset.clone(),
            per_class: self.per_class,
            data_dir: self.data_dir.clone(),
            model: self.model,
            dropout: self.dropout,
            hidden: self.hidden.clone(),
        }
    }
}

/// The curvature a run measures at every evaluation (when asked): λ_max by power iteration and
/// tr(H) by Hutchinson, on the first 512 test images.
fn curvature_request() -> SharpnessRequest {
    SharpnessRequest {
        rows: 512,
        top: 1,
        max_iterations: 20,
        trace_samples: 10,
        ..SharpnessRequest::default()
    }
}

/// Trains one cell with one seed, evaluating every epoch.
async fn run(
    gpu: &std::sync::Arc<Gpu>,
    data: &Dataset,
    cell: &Cell,
    seed: u64,
    curvature: bool,
) -> Result<RunResult, String> {
    let mut config = cell.config.clone();
    config.seed = seed;
    let mut trainer = Trainer::new(gpu, config, data, None)
        .map_err(|e| format!("{} / {}: {e}", cell.row, cell.column))?;
    let total = trainer.total_steps();
    let per_epoch = trainer.steps_per_epoch.max(1);
    let mut points = Vec::new();
    let mut seconds = 0.0;
    let mut started = Instant::now();
    while trainer.step < total {
        trainer.step();
        if trainer.step % per_epoch != 0 && trainer.step != total {
            continue;
        }
        let train = trainer
            .take_train_metrics()
            .await
            .map_err(|e| e.to_string())?;
        seconds += started.elapsed().as_secs_f64();
        let test = trainer.evaluate().await.map_err(|e| e.to_string())?;
        if train.nonfinite_steps > 0 {
            return Err(format!(
                "{} / {} (seed {seed}): diverged by step {}",
                cell.row, cell.column, trainer.step
            ));
        }
        let (mut lambda_max, mut trace) = (None, None);
        if curvature {
            let mut probe = trainer.probe(512);
            let report = sharpness::measure(&mut probe, &curvature_request())
                .await
                .map_err(|e| e.to_string())?;
            lambda_max = report.eigenvalues.first().map(|e| e.value);
            trace = report.trace.map(|t| t.value);
        }
        points.push(Point {
            step: trainer.step,
            epoch: trainer.epoch(),
            gradient_evaluations: trainer.passes_per_step() * trainer.step as f64,
            seconds,
            test_accuracy: test.accuracy,
            test_loss: test.loss,
            train_accuracy: train.accuracy,
            lambda_max,
            trace,
        });
        started = Instant::now();
    }
    let last = points
        .last()
        .cloned()
        .ok_or("no evaluation: the run has no steps")?;
    Ok(RunResult {
        row: cell.row.clone(),
        column: cell.column.clone(),
        x: cell.x,
        seed,
        final_accuracy: last.test_accuracy,
        best_accuracy: points
            .iter()
            .map(|p| p.test_accuracy)
            .fold(f64::MIN, f64::max),
        seconds: last.seconds,
        gradient_evaluations: last.gradient_evaluations,
        points,
    })
}

/// "mean ± sd" in percent; "–" for a cell without runs.
fn pct((mean, sd): (f64, f64)) -> String {
    if mean.is_nan() {
        return "–".into();
    }
    format!("{:.2} ± {:.2}", 100.0 * mean, 100.0 * sd)
}

/// The rows and columns of the table, in the order the cells came.
fn order(results: &[RunResult]) -> (Vec<String>, Vec<String>) {
    (
        distinct(results.iter().map(|r| r.row.clone())),
        distinct(results.iter().map(|r| r.column.clone())),
    )
}

/// The values in the order they first come, each once.
fn distinct(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

fn of<'a>(results: &'a [RunResult], row: &str, column: &str) -> Vec<&'a RunResult> {
    results
        .iter()
        .filter(|r| r.row == row && r.column == column)
        .collect()
}

/// The Markdown table: per cell, final and best test accuracy (%) as mean ± sd over the seeds,
/// plus gradient evaluations and seconds (and λ_max, tr(H) for the curvature experiment).
fn table(results: &[RunResult], curvature: bool) -> String {
    let (rows, columns) = order(results);
    let mut out = String::new();
    let single = columns.len() == 1;
    let mut header = vec!["".to_string()];
    for c in &columns {
        let prefix = if single {
            String::new()
        } else {
            format!("{c}: ")
        };
        header.push(format!("{prefix}final %"));
        header.push(format!("{prefix}best %"));
        if single || curvature {
            header.push(format!("{prefix}gradient evaluations"));
            header.push(format!("{prefix}seconds"));
        }
        if curvature {
            header.push(format!("{prefix}λ_max"));
            header.push(format!("{prefix}tr(H)"));
        }
    }
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}|", vec!["---"; header.len()].join("|"));
    for row in &rows {
        let mut line = vec![row.clone()];
        for c in &columns {
            let runs = of(results, row, c);
            let get = |f: &dyn Fn(&RunResult) -> f64| {
                mean_sd(&runs.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            line.push(pct(get(&|r| r.final_accuracy)));
            line.push(pct(get(&|r| r.best_accuracy)));
            if single || curvature {
                let (g, _) = get(&|r| r.gradient_evaluations);
                let (s, sd) = get(&|r| r.seconds);
                line.push(format!("{g:.0}"));
                line.push(format!("{s:.1} ± {sd:.1}"));
            }
            if curvature {
                let last = |f: fn(&Point) -> Option<f64>| {
                    mean_sd(
                        &runs
                            .iter()
                            .filter_map(|r| r.points.last().and_then(f))
                            .collect::<Vec<_>>(),
                    )
                };
                let (l, lsd) = last(|p| p.lambda_max);
                let (t, tsd) = last(|p| p.trace);
                line.push(format!("{l:.3} ± {lsd:.3}"));
                line.push(format!("{t:.2} ± {tsd:.2}"));
            }
        }
        let _ = writeln!(out, "| {} |", line.join(" | "));
    }
    out
}

const COLOURS: [RGBColor; 7] = [
    RGBColor(37, 99, 235),
    RGBColor(234, 88, 12),
    RGBColor(22, 163, 74),
    RGBColor(124, 58, 237),
    RGBColor(185, 28, 28),
    RGBColor(8, 145, 178),
    RGBColor(120, 113, 108),
];

/// A plotted point: x, the mean over the seeds and their standard deviation.
type MeanPoint = (f64, f64, f64);
/// A named line of points.
type Series = (String, Vec<MeanPoint>);
/// One seed's (loss, SAM's worst-case sharpness, ASAM's adaptive one) at one scale a.
type AtScale = (f64, f64, f64);

/// A line per series, with error bars of ±sd.
fn line_plot(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (820, 520)).into_drawing_area();
        let draw = || -> Result<(), Box<dyn std::error::Error>> {
            root.fill(&WHITE)?;
            let xs: Vec<f64> = series
                .iter()
                .flat_map(|(_, p)| p.iter().map(|q| q.0))
                .filter(|x| x.is_finite())
                .collect();
            let ys: Vec<f64> = series
                .iter()
                .flat_map(|(_, p)| p.iter().flat_map(|q| [q.1 - q.2, q.1 + q.2]))
                .filter(|y| y.is_finite())
                .collect();
            let (x0, x1) = xs
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let (y0, y1) = ys
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &y| (a.min(y), b.max(y)));
            let (x0, x1) = if x0 < x1 {
                (x0, x1)
            } else {
                (x0 - 1.0, x0 + 1.0)
            };
            let pad = ((y1 - y0) * 0.08).max(1e-6);
            let mut builder = ChartBuilder::on(&root);
            let chart = builder
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(64);
            let y_range = (y0 - pad)..(y1 + pad);
            let style = |c: &RGBColor| ShapeStyle::from(c).stroke_width(2);
            macro_rules! body {
                ($chart:expr) => {{
                    let mut chart = $chart;
                    chart
                        .configure_mesh()
                        .x_desc(x_label)
                        .y_desc(y_label)
                        .draw()?;
                    for (i, (name, points)) in series.iter().enumerate() {
                        let colour = COLOURS[i % COLOURS.len()];
                        chart
                            .draw_series(LineSeries::new(
                                points.iter().map(|p| (p.0, p.1)),
                                style(&colour),
                            ))?
                            .label(name.as_str())
                            .legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 18, y)], style(&colour))
                            });
                        chart.draw_series(points.iter().map(|p| {
                            ErrorBar::new_vertical(
                                p.0,
                                p.1 - p.2,
                                p.1,
                                p.1 + p.2,
                                style(&colour),
                                6,
                            )
                        }))?;
                        chart.draw_series(
                            points
                                .iter()
                                .map(|p| Circle::new((p.0, p.1), 3, colour.filled())),
                        )?;
                    }
                    chart
                        .configure_series_labels()
                        .background_style(WHITE.mix(0.85))
                        .border_style(BLACK)
                        .draw()?;
                }};
            }
            if log_x {
                body!(chart.build_cartesian_2d((x0 * 0.8..x1 * 1.25).log_scale(), y_range)?);
            } else {
                let xpad = (x1 - x0) * 0.05;
                body!(chart.build_cartesian_2d((x0 - xpad)..(x1 + xpad), y_range)?);
            }
            root.present()?;
            Ok(())
        };
        draw().map_err(|e| format!("cannot draw the plot: {e}"))?;
    }
    Ok(out)
}

/// The plot of a training experiment: final test accuracy (%) against the cells' x, one line per
/// column (or per row when there is one column); the curvature experiment plots λ_max per epoch,
/// the efficiency one accuracy against gradient evaluations.
fn plot(experiment: Experiment, plan: &Plan, results: &[RunResult]) -> Result<String, String> {
    let (rows, columns) = order(results);
    let title = format!("samlab reproduce {}", experiment.name());
    let point = |runs: &[&RunResult], x: f64, f: &dyn Fn(&RunResult) -> f64| {
        let (m, sd) = mean_sd(&runs.iter().map(|r| f(r)).collect::<Vec<_>>());
        (x, m, sd)
    };
    let mut series = Vec::new();
    match experiment {
        Experiment::Curvature => {
            for row in &rows {
                let runs = of(results, row, &columns[0]);
                let epochs = runs[0].points.len();
                let points = (0..epochs)
                    .map(|i| {
                        let values: Vec<f64> = runs
                            .iter()
                            .filter_map(|r| r.points.get(i).and_then(|p| p.lambda_max))
                            .collect();
                        let (m, sd) = mean_sd(&values);
                        (runs[0].points[i].epoch, m, sd)
                    })
                    .collect();
                series.push((row.clone(), points));
            }
            return line_plot(
                &title,
                "epoch",
                "λ_max (first 512 test images)",
                &series,
                false,
            );
        }
        Experiment::Efficiency => {
            for row in &rows {
                let runs = of(results, row, &columns[0]);
                let g = mean_sd(
                    &runs
                        .iter()
                        .map(|r| r.gradient_evaluations)
                        .collect::<Vec<_>>(),
                )
                .0;
                series.push((
                    row.clone(),
                    vec![point(&runs, g, &|r| 100.0 * r.final_accuracy)],
                ));
            }
            return line_plot(
                &title,
                plan.x_label,
                "final test accuracy (%)",
                &series,
                false,
            );
        }
        _ => {}
    }
    if columns.len() == 1 {
        let runs_of = |row: &String| of(results, row, &columns[0]);
        let points = rows
            .iter()
            .map(|row| {
                point(&runs_of(row), runs_of(row)[0].x, &|r| {
                    100.0 * r.final_accuracy
                })
            })
            .collect();
        series.push(("final test accuracy".to_string(), points));
    } else {
        // A line per column (and per data set, for rows written "DATA · …"), over the rows that
        // have runs of that column, at their x.
        let group_of = |row: &str| {
            row.split_once(" · ")
                .map(|(g, _)| g.to_string())
                .unwrap_or_default()
        };
        let groups = distinct(rows.iter().map(|r| group_of(r)));
        for group in &groups {
            for column in &columns {
                let points: Vec<MeanPoint> = rows
                    .iter()
                    .filter(|r| group_of(r) == *group)
                    .filter_map(|row| {
                        let runs = of(results, row, column);
                        let x = runs.first()?.x;
                        Some(point(&runs, x, &|r| 100.0 * r.final_accuracy))
                    })
                    .collect();
                if points.is_empty() {
                    continue;
                }
                let name = if group.is_empty() {
                    column.clone()
                } else {
                    format!("{column} ({group})")
                };
                series.push((name, points));
            }
        }
    }
    line_plot(
        &title,
        plan.x_label,
        "final test accuracy (%)",
        &series,
        plan.log_x,
    )
}

/// ASAM's scale invariance: an SGD-trained MLP 784-128-10 whose first layer (weight and bias) is
/// scaled by a and second weight by 1/a computes the same function; SAM's worst-case ρ-sharpness
/// changes with a, ASAM's adaptive one (η = 0) does not.
async fn asam_invariance(
    gpu: &std::sync::Arc<Gpu>,
    data: &Dataset,
    seed: u64,
    quick: bool,
) -> Result<Vec<(f64, f64, f64, f64)>, String> {
    let mut config = with_sam(base(if quick { 1 } else { 3 }), sam("none", 0.0));
    config.seed = seed;
    let mut trainer = Trainer::new(gpu, config, data, None).map_err(|e| e.to_string())?;
    while trainer.step < trainer.total_steps() {
        trainer.step();
    }
    let _ = trainer
        .take_train_metrics()
        .await
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for a in [0.25, 0.5, 1.0, 2.0, 4.0] {
        // The probe measures its own copy of the weights, rescaled; the trainer's stay as trained.
        let factors = sharpness::layer_rescaling(&trainer.model, a)?;
        let mut probe = trainer.probe(512);
        probe.rescale(&factors).await.map_err(|e| e.to_string())?;
        let request = SharpnessRequest {
            top: 0,
            rho: 0.05,
            ascent_steps: 5,
            eta: Some(0.0),
            scale: a,
            ..SharpnessRequest::default()
        };
        let report = sharpness::measure(&mut probe, &request)
            .await
            .map_err(|e| e.to_string())?;
        rows.push((
            a,
            report.loss,
            report.worst_case.unwrap_or(f64::NAN),
            report.adaptive_worst_case.unwrap_or(f64::NAN),
        ));
    }
    Ok(rows)
}

/// The shifted test sets of the ood experiment, "clean" first.
fn ood_shifts() -> Vec<Option<Shift>> {
    let mut shifts = vec![None];
    shifts.extend([15.0, 30.0, 45.0].map(|d| Some(Shift::Rotate(d))));
    shifts.extend([0.2, 0.4].map(|sigma| Some(Shift::Noise { sigma, seed: 7 })));
    shifts.extend([1.0, 1.5].map(|s| Some(Shift::Blur(s))));
    shifts.extend([0.5, 0.3].map(|c| Some(Shift::Contrast(c))));
    shifts
}

/// Trains `config` on clean data, then evaluates it on every shifted test set: one RunResult per
/// shift (row: the shift, column: the arm).
async fn ood_run(
    gpu: &std::sync::Arc<Gpu>,
    data: &Dataset,
    arm: &str,
    config: &TrainConfig,
    seed: u64,
) -> Result<Vec<RunResult>, String> {
    let mut config = config.clone();
    config.seed = seed;
    let mut trainer = Trainer::new(gpu, config, data, None).map_err(|e| e.to_string())?;
    let started = Instant::now();
    while trainer.step < trainer.total_steps() {
        trainer.step();
    }
    let train = trainer
        .take_train_metrics()
        .await
        .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let mut out = Vec::new();
    for (i, shift) in ood_shifts().into_iter().enumerate() {
        let test = match shift {
            None => trainer.evaluate().await,
            Some(shift) => trainer.evaluate_shifted(shift).await,
        }
        .map_err(|e| e.to_string())?;
        let point = Point {
            step: trainer.step,
            epoch: trainer.epoch(),
            gradient_evaluations: trainer.passes_per_step() * trainer.step as f64,
            seconds,
            test_accuracy: test.accuracy,
            test_loss: test.loss,
            train_accuracy: train.accuracy,
            lambda_max: None,
            trace: None,
        };
        out.push(RunResult {
            row: shift.map(|s| s.label()).unwrap_or_else(|| "clean".into()),
            column: arm.to_string(),
            x: i as f64,
            seed,
            final_accuracy: test.accuracy,
            best_accuracy: test.accuracy,
            seconds,
            gradient_evaluations: point.gradient_evaluations,
            points: vec![point],
        });
    }
    Ok(out)
}

/// `split` with every image rotated by `degrees` on the GPU (the shift kernel), back as bytes.
async fn rotated(
    gpu: &std::sync::Arc<Gpu>,
    split: &Split,
    degrees: f64,
    shape: [usize; 3],
) -> Result<Split, String> {
    let mut on_gpu = GpuSplit::upload(gpu, split, &split.labels).map_err(|e| e.to_string())?;
    on_gpu.shift(Some(Shift::Rotate(degrees)), shape)?;
    let pixels = on_gpu.read_pixels().await.map_err(|e| e.to_string())?;
    Ok(Split {
        pixels,
        ..split.clone()
    })
}

/// gradual-da's results for one arm and stage: (arm, stage, [(target accuracy, pseudo-label
/// accuracy)] over the seeds).
type StageCell = (String, String, Vec<(f64, Option<f64>)>);

/// The angles of gradual-da's domains: the source, then each step to the target.
const DOMAIN_ANGLES: [f64; 5] = [0.0, 15.0, 30.0, 45.0, 60.0];

/// Trains `config` on `set` to its last step from `init` (or the seed's initial weights): the
/// test accuracy then, and the weights.
async fn train_to_end(
    gpu: &std::sync::Arc<Gpu>,
    config: &TrainConfig,
    set: &Dataset,
    init: Option<&[f32]>,
) -> Result<(f64, Vec<f32>), String> {
    let mut trainer = Trainer::new(gpu, config.clone(), set, init).map_err(|e| e.to_string())?;
    while trainer.step < trainer.total_steps() {
        trainer.step();
    }
    trainer
        .take_train_metrics()
        .await
        .map_err(|e| e.to_string())?;
    let accuracy = trainer
        .evaluate()
        .await
        .map_err(|e| e.to_string())?
        .accuracy;
    let weights = trainer.weights().await.map_err(|e| e.to_string())?;
    Ok((accuracy, weights))
}

/// `images` labelled by what the model with `weights` predicts (their own labels are only used to
/// count how many pseudo-labels are right).
async fn pseudo_label(
    gpu: &std::sync::Arc<Gpu>,
    config: &TrainConfig,
    like: &Dataset,
    images: Split,
    weights: &[f32],
) -> Result<(Split, f64), String> {
    let set = Dataset::new(
        &like.name,
        images.clone(),
        images.clone(),
        like.classes,
        like.shape,
    );
    let mut trainer =
        Trainer::new(gpu, config.clone(), &set, Some(weights)).map_err(|e| e.to_string())?;
    let predictions = trainer.predict_test().await.map_err(|e| e.to_string())?;
    let right = predictions.correct() as f64 / images.count as f64;
    Ok((
        Split {
            labels: predictions.predicted,
            ..images
        },
        right,
    ))
}

/// Gradual self-training (Kumar, Ma & Liang, ICML 2020) on rotating MNIST with one optimizer:
/// train on 2,000 labelled upright digits, then for each next angle pseudo-label 1,500 new digits
/// rotated by it with the current model and train on those; also self-training straight from the
/// source model on the target angle. Every stage's accuracy is on the 2,000 test digits rotated
/// to the target angle (60°). Returns (stage, target accuracy, pseudo-label accuracy).
async fn gradual_da(
    gpu: &std::sync::Arc<Gpu>,
    data: &Dataset,
    config: &TrainConfig,
    seed: u64,
    quick: bool,
) -> Result<Vec<(String, f64, Option<f64>)>, String> {
    let shape = data.shape;
    let target = *DOMAIN_ANGLES.last().expect("angles");
    let (source_count, domain_count) = if quick { (400, 300) } else { (2000, 1500) };
    let needed = source_count + domain_count * (DOMAIN_ANGLES.len() - 1);
    if data.train.count < needed {
        return Err(format!(
            "gradual-da needs {needed} training images, the data set has {}",
            data.train.count
        ));
    }
    let target_test = rotated(gpu, &data.test, target, shape).await?;
    let dataset =
        |train: Split| Dataset::new(&data.name, train, target_test.clone(), data.classes, shape);
    let mut config = config.clone();
    config.seed = seed;
    let mut stages = Vec::new();
    // The embedded MNIST interleaves its classes, so contiguous ranges are balanced.
    let source = data.train.range(0..source_count)?;
    let (accuracy, source_weights) = train_to_end(gpu, &config, &dataset(source), None).await?;
    stages.push(("source only (0°)".to_string(), accuracy, None));
    let domain = |k: usize| {
        data.train
            .range(source_count + (k - 1) * domain_count..source_count + k * domain_count)
    };
    let mut weights = source_weights.clone();
    for (k, &angle) in DOMAIN_ANGLES.iter().enumerate().skip(1) {
        let images = rotated(gpu, &domain(k)?, angle, shape).await?;
        let (labelled, right) = pseudo_label(gpu, &config, data, images, &weights).await?;
        let (accuracy, next) =
            train_to_end(gpu, &config, &dataset(labelled), Some(&weights)).await?;
        stages.push((
            format!("after self-training at {angle}°"),
            accuracy,
            Some(right),
        ));
        weights = next;
    }
    // Straight to the target: the same number of images, all at 60°, from the source model.
    let mut direct = Split {
        pixels: Vec::new(),
        labels: Vec::new(),
        count: 0,
        features: data.train.features,
    };
    for k in 1..DOMAIN_ANGLES.len() {
        let part = rotated(gpu, &domain(k)?, target, shape).await?;
        direct.pixels.extend(part.pixels);
        direct.labels.extend(part.labels);
        direct.count += part.count;
    }
    let (labelled, right) = pseudo_label(gpu, &config, data, direct, &source_weights).await?;
    let (accuracy, _) =
        train_to_end(gpu, &config, &dataset(labelled), Some(&source_weights)).await?;
    stages.push((
        format!("direct self-training at {target}°"),
        accuracy,
        Some(right),
    ));
    Ok(stages)
}

pub async fn reproduce(args: ReproduceArgs) -> Result<(), String> {
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create --out {}: {e}", args.out.display()))?;
    let model_name = match args.model {
        ModelArg::Mlp => None,
        ModelArg::Lenet => Some("lenet"),
        ModelArg::TfjsConvnet => Some("tfjs-convnet"),
        ModelArg::Resnet8 => Some("resnet8"),
    };
    let experiment = args.experiment.name();
    let command = format!(
        "samlab reproduce {experiment} --seeds {}{}{}",
        args.seeds,
        if args.quick { " --quick" } else { "" },
        model_name
            .map(|m| format!(" --model {m}"))
            .unwrap_or_default()
    );
    // The files (and the table's heading) name the model when it is not the MLP.
    let file_name = match model_name {
        None => experiment.to_string(),
        Some(m) => format!("{experiment}-{m}"),
    };
    let name = file_name.as_str();
    let model_args = ModelArgs {
        dataset: "mnist".into(),
        per_class: None,
        data_dir: args.data_dir.clone(),
        model: args.model,
        dropout: 0.0,
        hidden: vec![128],
    };
    let model = model_args.kind();
    let mut cache = DataCache {
        args: model_args,
        quick: args.quick,
        loaded: Vec::new(),
    };
    let gpu = Gpu::new().await.map_err(|e| e.to_string())?;
    let seeds: Vec<u64> = (0..args.seeds).collect();
    let started = Instant::now();
    let mut md = format!(
        "## {name}\n\n`{command}` · {} · seeds {seeds:?}{}\n\n",
        gpu.adapter_name(),
        if args.quick {
            " · quick: short runs on small subsets, not the experiment's figures"
        } else {
            ""
        }
    );

    if args.experiment == Experiment::AsamInvariance && model != ModelKind::Mlp {
        return Err("asam-invariance rescales an MLP's layers (ReLU keeps the function): run it without --model".into());
    }
    let with_model = |mut config: TrainConfig| {
        config.model = model;
        config
    };
    if args.experiment == Experiment::AsamInvariance {
        let data = cache.get(Data::Mnist)?.clone();
        let mut by_a: Vec<(f64, Vec<AtScale>)> = Vec::new();
        for &seed in &seeds {
            eprintln!("samlab reproduce {name}: seed {seed}");
            for (a, loss, sam_s, asam_s) in asam_invariance(&gpu, &data, seed, args.quick).await? {
                match by_a.iter_mut().find(|(x, _)| *x == a) {
                    Some((_, v)) => v.push((loss, sam_s, asam_s)),
                    None => by_a.push((a, vec![(loss, sam_s, asam_s)])),
                }
            }
        }
        md.push_str("Claim: ASAM's adaptive sharpness is invariant to rescaling a ReLU layer by a and the next by 1/a (the network computes the same function); SAM's is not (Kwon et al., ICML 2021, §3).\n\n");
        md.push_str("| a | loss | SAM worst-case sharpness (ρ 0.05) | ASAM adaptive sharpness (ρ 0.05, η 0) |\n|---|---|---|---|\n");
        let mut series = vec![
            ("SAM (ℓ2 ball)".to_string(), Vec::new()),
            ("ASAM (adaptive ball)".to_string(), Vec::new()),
        ];
        for (a, values) in &by_a {
            let col = |k: usize| {
                mean_sd(
                    &values
                        .iter()
                        .map(|v| [v.0, v.1, v.2][k])
                        .collect::<Vec<_>>(),
                )
            };
            let (l, lsd) = col(0);
            let (s, ssd) = col(1);
            let (t, tsd) = col(2);
            let _ = writeln!(
                md,
                "| {a} | {l:.4} ± {lsd:.4} | {s:.4} ± {ssd:.4} | {t:.4} ± {tsd:.4} |"
            );
            series[0].1.push((*a, s, ssd));
            series[1].1.push((*a, t, tsd));
        }
        let svg = line_plot(
            "samlab reproduce asam-invariance",
            "a (first layer × a, second × 1/a)",
            "L(w+δ) − L(w), worst case in the ball",
            &series,
            true,
        )?;
        return finish(
            &args.out,
            name,
            &md,
            &svg,
            &serde_json::json!({ "command": command, "rows": by_a }),
            started,
        );
    }

    if args.experiment == Experiment::GradualDa {
        let data = cache.get(Data::Mnist)?.clone();
        let config = with_model(base(if args.quick { 2 } else { 5 }));
        let arms = classic_arms(&config)
            .into_iter()
            .take(2)
            .collect::<Vec<_>>();
        let mut cells: Vec<StageCell> = Vec::new();
        for (arm, config) in &arms {
            for &seed in &seeds {
                eprintln!("samlab reproduce {name}: {arm} · seed {seed}");
                for (stage, accuracy, right) in
                    gradual_da(&gpu, &data, config, seed, args.quick).await?
                {
                    match cells.iter_mut().find(|(a, s, _)| a == arm && *s == stage) {
                        Some((_, _, v)) => v.push((accuracy, right)),
                        None => cells.push((arm.clone(), stage, vec![(accuracy, right)])),
                    }
                }
            }
        }
        md.push_str("Claim: self-training through a sequence of gradually shifted domains (rotating MNIST, 0° → 60°) adapts far better than self-training on the target directly (Kumar, Ma & Liang, ICML 2020); the seed asks whether SAM helps each self-training step. Test accuracy (%) on the 2,000 test digits rotated by 60°; pseudo-label accuracy (%) is how many of the stage's pseudo-labels were right. Per stage (without --quick): 5 epochs on 1,500 new digits, after 2,000 labelled upright ones for the source.\n\n");
        let stages = distinct(cells.iter().map(|c| c.1.clone()));
        let _ = writeln!(
            md,
            "| stage | {} |\n|---|{}",
            arms.iter()
                .map(|(a, _)| format!("{a}: 60° accuracy | {a}: pseudo-labels right"))
                .collect::<Vec<_>>()
                .join(" | "),
            "---|---|".repeat(arms.len())
        );
        let mut series: Vec<Series> = arms.iter().map(|(a, _)| (a.clone(), Vec::new())).collect();
        for (i, stage) in stages.iter().enumerate() {
            let mut line = vec![stage.clone()];
            for (j, (arm, _)) in arms.iter().enumerate() {
                let values = &cells
                    .iter()
                    .find(|(a, s, _)| a == arm && s == stage)
                    .expect("every arm has every stage")
                    .2;
                let (m, sd) = mean_sd(&values.iter().map(|v| v.0).collect::<Vec<_>>());
                line.push(pct((m, sd)));
                let right: Vec<f64> = values.iter().filter_map(|v| v.1).collect();
                line.push(if right.is_empty() {
                    "–".into()
                } else {
                    pct(mean_sd(&right))
                });
                series[j].1.push((i as f64, 100.0 * m, 100.0 * sd));
            }
            let _ = writeln!(md, "| {} |", line.join(" | "));
        }
        let svg = line_plot(
            "samlab reproduce gradual-da (x: source, 15°, 30°, 45°, 60°, direct)",
            "stage (index in the table)",
            "test accuracy at 60° (%)",
            &series,
            false,
        )?;
        let json: Vec<_> = cells
            .iter()
            .map(|(a, s, v)| serde_json::json!({ "arm": a, "stage": s, "runs": v }))
            .collect();
        return finish(
            &args.out,
            name,
            &md,
            &svg,
            &serde_json::json!({ "command": command, "cells": json }),
            started,
        );
    }

    if args.experiment == Experiment::Ood {
        let data = cache.get(Data::Mnist)?.clone();
        let config = with_model(base(if args.quick { 2 } else { 10 }));
        let arms = classic_arms(&config);
        let mut results = Vec::new();
        for (arm, config) in &arms {
            for &seed in &seeds {
                eprintln!("samlab reproduce {name}: {arm} · seed {seed}");
                results.extend(ood_run(&gpu, &data, arm, config, seed).await?);
            }
        }
        md.push_str("Claim: SAM's flatter minima are more robust to distribution shift; on MNIST-C-style corruptions SAM keeps more of its accuracy than SGD (the seed's claim; cf. Foret et al. 2021 and studies of SAM under corruption such as Kaddour et al. 2022). Test accuracy (%) on the 2,000 test digits, each shifted on the GPU; trained on clean digits.\n\n");
        // Rows: shifts; columns: arms (final = the only evaluation).
        let (rows, columns) = order(&results);
        let _ = writeln!(
            md,
            "| test set | {} |\n|---|{}",
            columns.join(" | "),
            "---|".repeat(columns.len())
        );
        let mut series: Vec<Series> = columns.iter().map(|c| (c.clone(), Vec::new())).collect();
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let (m, sd) = mean_sd(
                        &of(&results, row, c)
                            .iter()
                            .map(|r| r.final_accuracy)
                            .collect::<Vec<_>>(),
                    );
                    series[j].1.push((i as f64, 100.0 * m, 100.0 * sd));
                    pct((m, sd))
                })
                .collect();
            let _ = writeln!(md, "| {row} | {} |", cells.join(" | "));
        }
        let svg = line_plot("samlab reproduce ood (x: clean, rotate 15/30/45°, noise 0.2/0.4, blur 1/1.5, contrast 0.5/0.3)", "test set (index in the table)", "test accuracy (%)", &series, false)?;
        return finish(
            &args.out,
            name,
            &md,
            &svg,
            &serde_json::json!({ "command": command, "runs": results }),
            started,
        );
    }

    let mut plan = plan(args.experiment, args.quick);
    for cell in &mut plan.cells {
        cell.config = with_model(cell.config.clone());
    }
    let mut done = if args.resume {
        finished_runs(&args.out, name, &command)?
    } else {
        Vec::new()
    };
    let is_done = |done: &[RunResult], cell: &Cell, seed: u64| {
        done.iter()
            .any(|r| r.row == cell.row && r.column == cell.column && r.seed == seed)
    };
    // Warm-up: every cell's kernels compiled once before any run is timed (the first use of a
    // pipeline compiles it, which would otherwise land in one run's seconds).
    for cell in &plan.cells {
        if seeds.iter().all(|&seed| is_done(&done, cell, seed)) {
            continue;
        }
        let data = cache.get(cell.data)?.clone();
        let mut trainer = Trainer::new(&gpu, cell.config.clone(), &data, None)
            .map_err(|e| format!("{} / {}: {e}", cell.row, cell.column))?;
        trainer.step();
        trainer
            .take_train_metrics()
            .await
            .map_err(|e| e.to_string())?;
        trainer.evaluate().await.map_err(|e| e.to_string())?;
    }
    let mut results = Vec::new();
    let runs = plan.cells.len() * seeds.len();
    for (i, cell) in plan.cells.iter().enumerate() {
        let data = cache.get(cell.data)?.clone();
        for &seed in &seeds {
            let number = i * seeds.len() + seed as usize + 1;
            let (row, column) = (&cell.row, &cell.column);
            if let Some(at) = done
                .iter()
                .position(|r| r.row == cell.row && r.column == cell.column && r.seed == seed)
            {
                eprintln!("samlab reproduce {name}: run {number}/{runs}: {row} / {column} · seed {seed} (kept from {name}.json)");
                results.push(done.swap_remove(at));
                continue;
            }
            eprintln!(
                "samlab reproduce {name}: run {number}/{runs}: {row} / {column} · seed {seed}"
            );
            results.push(run(&gpu, &data, cell, seed, plan.curvature).await?);
        }
        // A long experiment writes what it has after every cell, so a stopped run leaves its
        // finished cells (the table says how many runs it holds).
        if i + 1 < plan.cells.len() {
            let partial = format!(
                "{md}Claim ({}): {}\n\n**Partial: {} of {runs} runs** (the experiment was still running).\n\n{}",
                plan.source,
                plan.claim,
                results.len(),
                table(&results, plan.curvature)
            );
            let json = serde_json::json!({ "command": command, "partial": true, "runs": results });
            write_outputs(&args.out, name, &partial, "", &json)?;
        }
    }
    let _ = writeln!(md, "Claim ({}): {}\n", plan.source, plan.claim);
    md.push_str(&table(&results, plan.curvature));
    // The table and the runs first: a plot that fails must not lose them.
    let json = serde_json::json!({ "command": command, "runs": results });
    write_outputs(&args.out, name, &md, "", &json)?;
    let svg = plot(args.experiment, &plan, &results)?;
    write_outputs(&args.out, name, &md, &svg, &json)?;
    eprintln!(
        "samlab reproduce {name}: {runs} runs in {:.0} s, wrote {}/{name}.md, .svg, .json",
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    print!("{md}");
    Ok(())
}

/// The runs of OUT/NAME.json when it was written by the same command (a partial file of a stopped
/// run, or a finished one): what `--resume` keeps. No file: nothing to keep.
fn finished_runs(
    dir: &std::path::Path,
    name: &str,
    command: &str,
) -> Result<Vec<RunResult>, String> {
    #[derive(serde::Deserialize)]
    struct Saved {
        command: String,
        runs: Vec<RunResult>,
    }
    let path = dir.join(format!("{name}.json"));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("--resume: cannot read {}: {e}", path.display())),
    };
    let saved: Saved = serde_json::from_str(&text).map_err(|e| {
        format!(
            "--resume: {} is not a samlab reproduce file ({e}); move it away or run without --resume",
            path.display()
        )
    })?;
    if saved.command != command {
        return Err(format!(
            "--resume: {} holds the runs of `{}`, not `{command}`; run that command again with --resume, or move the file away",
            path.display(),
            saved.command
        ));
    }
    Ok(saved.runs)
}

/// Writes an experiment's files, says where, and prints its table.
fn finish(
    dir: &std::path::Path,
    name: &str,
    md: &str,
    svg: &str,
    json: &serde_json::Value,
    started: Instant,
) -> Result<(), String> {
    write_outputs(dir, name, md, svg, json)?;
    eprintln!(
        "samlab reproduce {name}: done in {:.0} s, wrote {}/{name}.md, .svg, .json",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    print!("{md}");
    Ok(())
}

fn write_outputs(
    dir: &std::path::Path,
    name: &str,
    md: &str,
    svg: &str,
    json: &serde_json::Value,
) -> Result<(), String> {
    for (ext, text) in [
        ("md", md.to_string()),
        ("svg", svg.to_string()),
        ("json", json.to_string()),
    ] {
        let path = dir.join(format!("{name}.{ext}"));
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
