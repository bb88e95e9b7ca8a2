//! `Surface2d`: the "SAM in two dimensions" view's engine (`crate::surface::SurfaceRun`) for the
//! page. Every run shares one GPU device of the page's own (opened on first use), so switching
//! surfaces or SAM forms reuses the compiled pipelines.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::prelude::*;

use super::{config::check_object_keys, js_error, to_js};
use crate::gpu::Gpu;
use crate::sam::{SamConfig, SamKind};
use crate::surface::{self, Surface, SurfaceConfig, SurfaceRun};

thread_local! {
    static DEVICE: RefCell<Option<Arc<Gpu>>> = const { RefCell::new(None) };
}

/// The shared device, opened again if the last one was lost.
async fn device() -> Result<Arc<Gpu>, JsValue> {
    let healthy = DEVICE.with(|d| d.borrow().clone().filter(|g| g.check_health().is_ok()));
    if let Some(gpu) = healthy {
        return Ok(gpu);
    }
    let gpu = Gpu::new().await.map_err(|e| JsValue::from(js_error(e)))?;
    DEVICE.with(|d| *d.borrow_mut() = Some(gpu.clone()));
    Ok(gpu)
}

const KEYS: &[&str] = &[
    "surface",
    "condition",
    "sam",
    "rho",
    "eta",
    "lr",
    "momentum",
    "start",
];

/// `Surface2d.create`'s config, read key by key (unset keys take the surface's suggestions, see
/// `Surface2d.surfaces()`). Reflect instead of a serde struct: the page downloads this code, and the
/// generic deserializer cost 11 KB of wasm for eight keys.
fn parse_config(value: &JsValue) -> Result<SurfaceConfig, JsError> {
    let given = !(value.is_undefined() || value.is_null());
    if given {
        check_object_keys(
            value,
            KEYS,
            "invalid Surface2d config",
            "{surface: \"sharp-flat\", sam: \"sam\", rho: 0.2}",
        )?;
    }
    let get = |key: &str| match given {
        true => js_sys::Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED),
        false => JsValue::UNDEFINED,
    };
    let bad = |key: &str, what: &str| {
        JsError::new(&format!("invalid Surface2d config: {key} must be {what}"))
    };
    let text = |key: &str| match get(key) {
        v if v.is_undefined() => Ok(None),
        v => v.as_string().map(Some).ok_or_else(|| bad(key, "a string")),
    };
    let number = |key: &str| match get(key) {
        v if v.is_undefined() => Ok(None),
        v => v.as_f64().map(Some).ok_or_else(|| bad(key, "a number")),
    };
    let surface = Surface::parse(
        text("surface")?.as_deref().unwrap_or("sharp-flat"),
        number("condition")?,
    )
    .map_err(|e| JsError::new(&e))?;
    let kind =
        SamKind::parse(text("sam")?.as_deref().unwrap_or("sam")).map_err(|e| JsError::new(&e))?;
    let mut config = SurfaceConfig::suggested(surface, kind);
    config.sam = SamConfig {
        rho: number("rho")?.or(config.sam.rho),
        eta: number("eta")?,
        ..config.sam
    };
    config.lr = number("lr")?.unwrap_or(config.lr);
    config.momentum = number("momentum")?.unwrap_or(0.0);
    let start = get("start");
    if !start.is_undefined() {
        let pair = js_sys::Array::is_array(&start)
            .then(|| js_sys::Array::from(&start))
            .filter(|a| a.length() == 2)
            .and_then(|a| Some([a.get(0).as_f64()?, a.get(1).as_f64()?]));
        config.start = pair.ok_or_else(|| bad("start", "[x, y], two numbers"))?;
    }
    config.validate().map_err(|e| JsError::new(&e))?;
    Ok(config)
}

/// An optimizer stepping on a 2-D loss surface with the training's own SAM and SGD kernels.
#[wasm_bindgen]
pub struct Surface2d {
    inner: Rc<RefCell<SurfaceRun>>,
}

#[wasm_bindgen]
impl Surface2d {
    /// `await Surface2d.create({surface, condition, sam, rho, eta, lr, momentum, start})`; every key
    /// optional (see docs/web.md). Throws naming the bad key.
    pub fn create(config: JsValue) -> js_sys::Promise {
        let parsed = parse_config(&config);
        wasm_bindgen_futures::future_to_promise(async move {
            let config = parsed.map_err(JsValue::from)?;
            let gpu = device().await?;
            let run = SurfaceRun::new(&gpu, config).map_err(|e| JsValue::from(JsError::new(&e)))?;
            Ok(JsValue::from(Surface2d {
                inner: Rc::new(RefCell::new(run)),
            }))
        })
    }

    /// Every surface with its formula, the square it is drawn on and suggested settings.
    pub fn surfaces() -> Result<JsValue, JsError> {
        let infos: Vec<_> = Surface::NAMES
            .iter()
            .map(|name| Surface::parse(name, None).map(|s| s.info()))
            .collect::<Result<_, _>>()
            .map_err(js_error)?;
        to_js(&infos)
    }

    /// `await Surface2d.grid(surface, n, condition)`: `{domain, n, loss}`, the loss on an n × n
    /// grid over the surface's square (`loss[j][i]`, x along i, y along j), computed by the same
    /// kernel the steps use.
    pub fn grid(surface: String, n: u32, condition: Option<f64>) -> js_sys::Promise {
        let parsed = Surface::parse(&surface, condition);
        wasm_bindgen_futures::future_to_promise(async move {
            let surface = parsed.map_err(|e| JsValue::from(JsError::new(&e)))?;
            let gpu = device().await?;
            let pending = surface::submit_grid(&gpu, surface, n as usize)
                .map_err(|e| JsValue::from(JsError::new(&e)))?;
            let grid = pending
                .read()
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            Ok(to_js(&grid)?)
        })
    }

    /// `await run.step(n)`: takes n steps (1 to 1000) and resolves to one point per step:
    /// `{step, w, loss, grad, perturbed, perturbedLoss, perturbedGrad, update, next, lr, rho}`
    /// (`perturbed*` null without SAM).
    pub fn step(&self, n: u32) -> js_sys::Promise {
        let submitted = {
            let mut run = self.inner.borrow_mut();
            run.gpu()
                .check_health()
                .map_err(js_error)
                .and_then(|_| run.submit_steps(n as usize).map_err(|e| JsError::new(&e)))
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let pending = submitted.map_err(JsValue::from)?;
            let points = pending
                .read()
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            Ok(to_js(&points)?)
        })
    }

    /// Starts again at (x, y) with fresh momentum.
    pub fn reset(&self, x: f64, y: f64) -> Result<(), JsError> {
        self.inner
            .borrow_mut()
            .reset([x, y])
            .map_err(|e| JsError::new(&e))
    }

    #[wasm_bindgen(js_name = setRho)]
    pub fn set_rho(&self, rho: f64) -> Result<(), JsError> {
        self.inner
            .borrow_mut()
            .set_rho(rho)
            .map_err(|e| JsError::new(&e))
    }

    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&self, lr: f64) -> Result<(), JsError> {
        self.inner
            .borrow_mut()
            .set_learning_rate(lr)
            .map_err(|e| JsError::new(&e))
    }

    #[wasm_bindgen(getter, js_name = stepCount)]
    pub fn step_count(&self) -> f64 {
        self.inner.borrow().steps as f64
    }

    #[wasm_bindgen(getter)]
    pub fn rho(&self) -> f64 {
        self.inner.borrow().config.sam.rho()
    }

    #[wasm_bindgen(getter, js_name = learningRate)]
    pub fn learning_rate(&self) -> f64 {
        self.inner.borrow().config.lr
    }

    #[wasm_bindgen(getter)]
    pub fn sam(&self) -> String {
        self.inner.borrow().config.sam.kind.name().to_string()
    }
}
