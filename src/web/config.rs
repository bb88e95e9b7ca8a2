//! The config object the page passes to `Trainer.create`: flat, camelCase, every key optional.
//! Numbers arrive as JS numbers (f64) and are checked here with the key's name in the message, so
//! `batchSize: -1` says "batchSize must be a whole number ≥ 1" rather than a serde type error.

use wasm_bindgen::prelude::*;

use crate::optim::{OptimizerConfig, OptimizerKind, Schedule};
use crate::sam::{SamConfig, SamKind};
use crate::train::{ModelKind, TrainConfig};

/// Read by hand from the JS object (`WebConfig::read`) once `check_keys` and `check_types` have
/// passed, rather than derived with serde: serde-wasm-bindgen's struct reader and the derive for
/// 35 fields cost the page more than these few lines (docs/benchmarks.md, "In the browser").
#[derive(Debug, Default)]
pub struct WebConfig {
    model: Option<String>,
    hidden: Option<Vec<f64>>,
    optimizer: Option<String>,
    lr: Option<f64>,
    momentum: Option<f64>,
    nesterov: Option<bool>,
    weight_decay: Option<f64>,
    sam: Option<String>,
    rho: Option<f64>,
    eta: Option<f64>,
    alpha: Option<f64>,
    sigma: Option<f64>,
    lambda: Option<f64>,
    k: Option<f64>,
    gamma: Option<f64>,
    beta: Option<f64>,
    rho_min: Option<f64>,
    n: Option<f64>,
    m: Option<f64>,
    swa_start: Option<f64>,
    rho_schedule: Option<String>,
    sam_start: Option<f64>,
    schedule: Option<String>,
    batch_size: Option<f64>,
    epochs: Option<f64>,
    seed: Option<f64>,
    label_noise: Option<f64>,
    label_smoothing: Option<f64>,
    shuffle: Option<bool>,
    dropout: Option<f64>,
    augment: Option<bool>,
    sparsity: Option<f64>,
    fisher_samples: Option<f64>,
    drop_rate: Option<f64>,
    base_width: Option<f64>,
}

/// Every key `WebConfig` accepts, as the page spells them.
const KEYS: &[&str] = &[
    "model",
    "hidden",
    "optimizer",
    "lr",
    "momentum",
    "nesterov",
    "weightDecay",
    "sam",
    "rho",
    "eta",
    "alpha",
    "sigma",
    "lambda",
    "k",
    "gamma",
    "beta",
    "rhoMin",
    "n",
    "m",
    "swaStart",
    "rhoSchedule",
    "samStart",
    "schedule",
    "batchSize",
    "epochs",
    "seed",
    "labelNoise",
    "labelSmoothing",
    "shuffle",
    "dropout",
    "augment",
    "sparsity",
    "fisherSamples",
    "dropRate",
    "baseWidth",
];

/// A whole number that must also fit usize (32 bits on wasm32), so a huge value is refused with
/// its own number rather than wrapped into a small one.
fn whole_usize(name: &str, value: f64, min: f64) -> Result<usize, String> {
    let v = whole(name, value, min)?;
    usize::try_from(v).map_err(|_| format!("{name} must be at most {}, got {value}", usize::MAX))
}

fn whole(name: &str, value: f64, min: f64) -> Result<u64, String> {
    if value.is_finite() && value.fract() == 0.0 && value >= min && value <= 9.0e15 {
        Ok(value as u64)
    } else {
        Err(format!(
            "{name} must be a whole number ≥ {min}, got {value}"
        ))
    }
}

impl WebConfig {
    pub fn from_js(value: JsValue) -> Result<TrainConfig, JsError> {
        let web: WebConfig = if value.is_undefined() || value.is_null() {
            WebConfig::default()
        } else {
            check_keys(&value)?;
            check_types(&value)?;
            WebConfig::read(&value)
        };
        web.into_config()
            .map_err(|e| JsError::new(&format!("invalid config: {}", js_names(&e))))
    }

    /// The fields of a plain object whose keys and value types have been checked; a key that is
    /// absent, undefined or null takes its default.
    fn read(object: &JsValue) -> WebConfig {
        let get = |key: &str| {
            js_sys::Reflect::get(object, &JsValue::from_str(key))
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_null())
        };
        let number = |key: &str| get(key).and_then(|v| v.as_f64());
        let text = |key: &str| get(key).and_then(|v| v.as_string());
        let flag = |key: &str| get(key).and_then(|v| v.as_bool());
        WebConfig {
            model: text("model"),
            hidden: get("hidden").map(|widths| {
                js_sys::Array::from(&widths)
                    .iter()
                    .filter_map(|w| w.as_f64())
                    .collect()
            }),
            optimizer: text("optimizer"),
            lr: number("lr"),
            momentum: number("momentum"),
            nesterov: flag("nesterov"),
            weight_decay: number("weightDecay"),
            sam: text("sam"),
            rho: number("rho"),
            eta: number("eta"),
            alpha: number("alpha"),
            sigma: number("sigma"),
            lambda: number("lambda"),
            k: number("k"),
            gamma: number("gamma"),
            beta: number("beta"),
            rho_min: number("rhoMin"),
            n: number("n"),
            m: number("m"),
            swa_start: number("swaStart"),
            rho_schedule: text("rhoSchedule"),
            sam_start: number("samStart"),
            schedule: text("schedule"),
            batch_size: number("batchSize"),
            epochs: number("epochs"),
            seed: number("seed"),
            label_noise: number("labelNoise"),
            label_smoothing: number("labelSmoothing"),
            shuffle: flag("shuffle"),
            dropout: number("dropout"),
            augment: flag("augment"),
            sparsity: number("sparsity"),
            fisher_samples: number("fisherSamples"),
            drop_rate: number("dropRate"),
            base_width: number("baseWidth"),
        }
    }

    pub fn into_config(self) -> Result<TrainConfig, String> {
        let defaults = TrainConfig::default();
        let model = match self.model.as_deref() {
            None => ModelKind::Mlp,
            Some(name) => ModelKind::ALL
                .into_iter()
                .find(|kind| kind.name() == name)
                .ok_or_else(|| {
                    format!(
                        "model {name:?} is unknown; use {}",
                        ModelKind::ALL.map(|k| format!("{:?}", k.name())).join(", ")
                    )
                })?,
        };
        let kind = match self.optimizer.as_deref().unwrap_or("sgd") {
            "sgd" => OptimizerKind::Sgd,
            "adam" => OptimizerKind::Adam,
            "adamw" => OptimizerKind::AdamW,
            other => {
                return Err(format!(
                    "optimizer {other:?} is unknown; use \"sgd\", \"adam\" or \"adamw\""
                ))
            }
        };
        let default_lr = if kind == OptimizerKind::Sgd {
            0.05
        } else {
            0.001
        };
        let sam_kind = SamKind::parse(self.sam.as_deref().unwrap_or("none"))?;
        let hidden = match self.hidden {
            None => defaults.hidden.clone(),
            Some(widths) => widths
                .iter()
                .map(|&w| whole_usize("hidden", w, 1.0))
                .collect::<Result<_, _>>()?,
        };
        let config = TrainConfig {
            model,
            hidden,
            dropout: self.dropout.unwrap_or(0.0),
            augment: self.augment.unwrap_or(false),
            optimizer: OptimizerConfig {
                kind,
                lr: self.lr.unwrap_or(default_lr),
                momentum: self.momentum.unwrap_or(if kind == OptimizerKind::Sgd {
                    0.9
                } else {
                    0.0
                }),
                nesterov: self.nesterov.unwrap_or(false),
                weight_decay: self.weight_decay.unwrap_or(0.0),
                ..OptimizerConfig::default()
            },
            sam: SamConfig {
                kind: sam_kind,
                rho: self.rho,
                eta: self.eta,
                alpha: self.alpha,
                sigma: self.sigma,
                lambda: self.lambda,
                k: self
                    .k
                    .map(|k| whole("k", k, 1.0))
                    .transpose()?
                    .map(|k| k.min(u32::MAX as u64) as u32),
                gamma: self.gamma,
                beta: self.beta,
                rho_min: self.rho_min,
                rho_schedule: self
                    .rho_schedule
                    .as_deref()
                    .map(crate::sam::RhoSchedule::parse)
                    .transpose()?,
                start_fraction: self.sam_start,
                n: self
                    .n
                    .map(|n| whole("n", n, 1.0))
                    .transpose()?
                    .map(|n| n.min(64) as u32),
                m: self
                    .m
                    .map(|m| whole("m", m, 1.0))
                    .transpose()?
                    .map(|m| m.min(u32::MAX as u64) as u32),
                sparsity: self.sparsity,
                fisher_samples: self
                    .fisher_samples
                    .map(|n| whole("fisherSamples", n, 1.0))
                    .transpose()?
                    .map(|n| n.min(u32::MAX as u64) as u32),
                drop_rate: self.drop_rate,
                base_width: self
                    .base_width
                    .map(|n| whole("baseWidth", n, 1.0))
                    .transpose()?
                    .map(|n| n.min(u32::MAX as u64) as u32),
            },
            schedule: match self.schedule {
                None => Schedule::Constant,
                Some(text) => Schedule::parse(&text)?,
            },
            batch_size: whole_usize(
                "batchSize",
                self.batch_size.unwrap_or(defaults.batch_size as f64),
                1.0,
            )?,
            epochs: whole("epochs", self.epochs.unwrap_or(defaults.epochs as f64), 1.0)?
                .min(u32::MAX as u64) as u32,
            seed: whole("seed", self.seed.unwrap_or(0.0), 0.0)?,
            label_noise: self.label_noise.unwrap_or(0.0),
            label_smoothing: self.label_smoothing.unwrap_or(0.0),
            shuffle: self.shuffle.unwrap_or(true),
            eval_batch_size: defaults.eval_batch_size,
            swa_start: self.swa_start,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Speaks of settings by their JS keys in messages that come from the shared validation.
pub(crate) fn js_names(message: &str) -> String {
    [
        ("weight_decay", "weightDecay"),
        ("label_noise", "labelNoise"),
        ("label_smoothing", "labelSmoothing"),
        ("batch_size", "batchSize"),
        ("step_epochs", "step schedule epochs"),
        ("rho_min", "rhoMin"),
        ("start_fraction", "samStart"),
        ("swa_start", "swaStart"),
        ("fisher_samples", "fisherSamples"),
        ("drop_rate", "dropRate"),
        ("base_width", "baseWidth"),
    ]
    .iter()
    .fold(message.to_string(), |text, (rust, js)| {
        text.replace(rust, js)
    })
}

/// Every key must be one of `KEYS`: a misspelt key is an error, not a silently ignored setting.
fn check_keys(value: &JsValue) -> Result<(), JsError> {
    check_object_keys(
        value,
        KEYS,
        "invalid config",
        "{optimizer: \"sgd\", sam: \"sam\"}",
    )
}

/// Each value's JS type, checked first so that the message names the key and what it got.
fn check_types(value: &JsValue) -> Result<(), JsError> {
    for entry in js_sys::Object::entries(&js_sys::Object::from(value.clone())).iter() {
        let pair = js_sys::Array::from(&entry);
        let (key, v) = (pair.get(0).as_string().unwrap_or_default(), pair.get(1));
        if v.is_undefined() || v.is_null() {
            continue; // the default
        }
        let (ok, wanted) = match key.as_str() {
            "model" | "optimizer" | "sam" | "rhoSchedule" | "schedule" => {
                (v.is_string(), "a string")
            }
            "nesterov" | "shuffle" | "augment" => (v.as_bool().is_some(), "true or false"),
            "hidden" => (
                js_sys::Array::is_array(&v)
                    && js_sys::Array::from(&v).iter().all(|w| w.as_f64().is_some()),
                "an array of numbers",
            ),
            _ => (v.as_f64().is_some(), "a number"),
        };
        if !ok {
            let got = if let Some(text) = v.as_string() {
                format!("the string {text:?}")
            } else if js_sys::Array::is_array(&v) {
                "an array".to_string()
            } else {
                format!(
                    "a value of type {}",
                    v.js_typeof().as_string().unwrap_or_default()
                )
            };
            return Err(JsError::new(&format!(
                "invalid config: {key} must be {wanted}, got {got}"
            )));
        }
    }
    Ok(())
}

/// Rejects anything but a plain object whose keys are all in `keys`, naming the bad key.
pub(crate) fn check_object_keys(
    value: &JsValue,
    keys: &[&str],
    what: &str,
    example: &str,
) -> Result<(), JsError> {
    if !value.is_object() || js_sys::Array::is_array(value) {
        return Err(JsError::new(&format!(
            "{what}: expected a plain object such as {example}"
        )));
    }
    for key in js_sys::Object::keys(&js_sys::Object::from(value.clone())).iter() {
        let key = key.as_string().unwrap_or_default();
        if !keys.contains(&key.as_str()) {
            return Err(JsError::new(&format!(
                "{what}: unknown key {key:?}; the keys are {}",
                keys.join(", ")
            )));
        }
    }
    Ok(())
}
