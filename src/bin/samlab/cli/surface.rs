//! `samlab surface`: SGD, SAM or ASAM on a 2-D loss surface (`samlab::surface`, the page's
//! "SAM in two dimensions" view), one JSON object per step on stdout: w, L(w), ∇L(w), w + ε,
//! L(w + ε), ∇L(w + ε), the gradient the update used and the new w.

use samlab::gpu::Gpu;
use samlab::sam::{SamConfig, SamKind};
use samlab::surface::{Surface, SurfaceConfig, SurfaceRun, MAX_STEPS_PER_CALL};

#[derive(clap::Args)]
pub struct SurfaceArgs {
    /// sharp-flat, rosenbrock, saddle or quadratic.
    #[arg(long, default_value = "sharp-flat")]
    surface: String,
    /// The quadratic's condition number κ (1 to 10000; default 10).
    #[arg(long)]
    condition: Option<f64>,
    /// none (plain SGD), sam or asam.
    #[arg(long, default_value = "sam")]
    sam: String,
    /// Neighbourhood radius (default: the surface's suggestion for the SAM form).
    #[arg(long)]
    rho: Option<f64>,
    /// ASAM's η (default 0.01).
    #[arg(long)]
    eta: Option<f64>,
    /// Learning rate (default: the surface's suggestion).
    #[arg(long)]
    lr: Option<f64>,
    /// SGD momentum (PyTorch's; 0 = none).
    #[arg(long, default_value_t = 0.0)]
    momentum: f64,
    /// The start, x,y (default: the surface's).
    #[arg(long, value_delimiter = ',')]
    start: Option<Vec<f64>>,
    /// Steps to take.
    #[arg(long, default_value_t = 100)]
    steps: usize,
}

pub async fn surface(args: SurfaceArgs) -> Result<(), String> {
    let surface = Surface::parse(&args.surface, args.condition)?;
    let kind = SamKind::parse(&args.sam)?;
    let mut config = SurfaceConfig::suggested(surface, kind);
    config.sam = SamConfig {
        rho: args.rho.or(config.sam.rho),
        eta: args.eta,
        ..config.sam
    };
    config.lr = args.lr.unwrap_or(config.lr);
    config.momentum = args.momentum;
    if let Some(start) = args.start {
        config.start = <[f64; 2]>::try_from(start.as_slice())
            .map_err(|_| format!("--start takes two numbers x,y, got {}", start.len()))?;
    }
    if args.steps == 0 {
        return Err("--steps must be at least 1".into());
    }
    let gpu = Gpu::new().await.map_err(|e| e.to_string())?;
    let mut run = SurfaceRun::new(&gpu, config)?;
    let mut left = args.steps;
    while left > 0 {
        let n = left.min(MAX_STEPS_PER_CALL);
        let points = run
            .submit_steps(n)?
            .read()
            .await
            .map_err(|e| e.to_string())?;
        for point in points {
            println!(
                "{}",
                serde_json::to_string(&point).map_err(|e| e.to_string())?
            );
        }
        left -= n;
    }
    Ok(())
}
