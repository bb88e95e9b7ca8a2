/// Learning-rate schedules, evaluated on the host per step (one uniform write, no GPU work).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Schedule {
    #[default]
    Constant,
    /// PyTorch StepLR stepped per epoch: lr · gamma^⌊epoch / step_epochs⌋.
    Step { step_epochs: u32, gamma: f64 },
    /// Linear warm-up from lr/warmup to lr over `warmup_steps`, then cosine decay to 0 at the end.
    Cosine { warmup_steps: u64 },
}

impl Schedule {
    /// Parses the CLI form: `constant`, `step:EPOCHS:GAMMA`, `cosine` or `cosine:WARMUP_STEPS`.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let bad = || {
            format!("unknown schedule {text:?}: use constant, step:EPOCHS:GAMMA (e.g. step:2:0.1), or cosine[:WARMUP_STEPS]")
        };
        let schedule = match parts.as_slice() {
            ["constant"] => Schedule::Constant,
            ["step", epochs, gamma] => Schedule::Step {
                step_epochs: epochs.parse().map_err(|_| bad())?,
                gamma: crate::host_math::parse_f64(gamma).ok_or_else(bad)?,
            },
            ["cosine"] => Schedule::Cosine { warmup_steps: 0 },
            ["cosine", warmup] => Schedule::Cosine {
                warmup_steps: warmup.parse().map_err(|_| bad())?,
            },
            _ => return Err(bad()),
        };
        schedule.validate()?;
        Ok(schedule)
    }

    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Schedule::Step { step_epochs, gamma } if step_epochs == 0 || !(gamma > 0.0 && gamma.is_finite()) => {
                Err(format!("step schedule needs step_epochs ≥ 1 and gamma > 0, got {step_epochs} and {gamma}"))
            }
            _ => Ok(()),
        }
    }

    /// The learning rate for step `step` (0-based) of `total_steps`, with `steps_per_epoch`.
    pub fn lr_at(&self, base_lr: f64, step: u64, total_steps: u64, steps_per_epoch: u64) -> f64 {
        match *self {
            Schedule::Constant => base_lr,
            Schedule::Step { step_epochs, gamma } => {
                let epoch = step / steps_per_epoch.max(1);
                base_lr * gamma.powi((epoch / step_epochs as u64) as i32)
            }
            Schedule::Cosine { warmup_steps } => {
                if step < warmup_steps {
                    return base_lr * (step + 1) as f64 / warmup_steps as f64;
                }
                let decay_steps = total_steps.saturating_sub(warmup_steps).max(1);
                let progress = ((step - warmup_steps) as f64 / decay_steps as f64).min(1.0);
                base_lr * 0.5 * (1.0 + crate::host_math::cos(std::f64::consts::PI * progress))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Schedule;

    #[test]
    fn schedules_follow_their_formulas() {
        assert_eq!(Schedule::Constant.lr_at(0.1, 57, 100, 10), 0.1);
        let step = Schedule::parse("step:2:0.5").unwrap();
        assert_eq!(step.lr_at(0.1, 19, 100, 10), 0.1);
        assert_eq!(step.lr_at(0.1, 20, 100, 10), 0.05);
        assert_eq!(step.lr_at(0.1, 45, 100, 10), 0.025);
        let cosine = Schedule::parse("cosine:10").unwrap();
        assert!((cosine.lr_at(1.0, 0, 110, 10) - 0.1).abs() < 1e-12);
        assert!((cosine.lr_at(1.0, 9, 110, 10) - 1.0).abs() < 1e-12);
        assert!((cosine.lr_at(1.0, 60, 110, 10) - 0.5).abs() < 1e-12);
        assert!(cosine.lr_at(1.0, 110, 110, 10).abs() < 1e-12);
    }

    #[test]
    fn bad_schedules_are_rejected_with_the_fix() {
        assert!(Schedule::parse("linear")
            .unwrap_err()
            .contains("use constant"));
        assert!(Schedule::parse("step:0:0.1")
            .unwrap_err()
            .contains("step_epochs"));
        assert!(Schedule::parse("step:2:-1").is_err());
    }
}
