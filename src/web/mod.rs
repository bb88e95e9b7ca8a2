//! The JavaScript API (wasm-bindgen): the only module that knows about JS. It wraps `train::Trainer`
//! for the page's Web Worker. Every GPU read is a Promise; errors are JS `Error`s with readable
//! messages; a panic is printed legibly by `console_error_panic_hook` (and kills the instance,
//! which the worker detects).
//!
//! The trainer sits in `Rc<RefCell<…>>` and is never borrowed across an `await`: reads copy the
//! buffer view and the `Arc<Gpu>` out first, so a `step()` call arriving while a read is pending
//! cannot hit a double borrow.

mod config;
mod surface;

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::data::{self, idx};
use crate::sharpness::{self, LandscapeRequest, SharpnessRequest};
use crate::train::{self, EvalMetrics};

pub use config::WebConfig;
pub use surface::Surface2d;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// The most bytes a gzip IDX file may unpack to: the page's worker decompresses gzip itself
/// (`DecompressionStream`; the wasm has no inflater) and stops past this, and `Dataset.fromIdx`
/// then reports the file's size.
#[wasm_bindgen(js_name = maxIdxBytes)]
pub fn max_idx_bytes() -> f64 {
    idx::MAX_UNPACKED_BYTES as f64
}

/// The most bytes a CIFAR-10 archive may unpack to; past it `Dataset.fromCifarArchive` answers
/// "archive unpacks to more than … bytes" (the worker stops decompressing there).
#[wasm_bindgen(js_name = maxArchiveBytes)]
pub fn max_archive_bytes() -> f64 {
    data::cifar::MAX_TAR_BYTES as f64
}

/// A data set held in wasm memory, parsed from plain IDX bytes or CIFAR-10 files. gzip input is
/// decompressed by the caller (the worker uses `DecompressionStream`): the wasm has no inflater.
#[wasm_bindgen]
pub struct Dataset {
    inner: data::Dataset,
}

#[wasm_bindgen]
impl Dataset {
    /// Parses the four IDX files of a data set; throws with a message naming the bad file.
    #[wasm_bindgen(js_name = fromIdx)]
    pub fn from_idx(
        name: String,
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
    ) -> Result<Dataset, JsError> {
        let classes = 10u8;
        let split = |what: &str,
                     images: &[u8],
                     labels: &[u8]|
         -> Result<(data::Split, [usize; 3]), JsError> {
            let images = idx::parse_images(images)
                .map_err(|e| JsError::new(&format!("{what} images: {e}")))?;
            let labels = idx::parse_labels(labels, classes)
                .map_err(|e| JsError::new(&format!("{what} labels: {e}")))?;
            if images.count != labels.len() {
                return Err(JsError::new(&format!(
                    "{what}: {} images but {} labels; the files do not belong together",
                    images.count,
                    labels.len()
                )));
            }
            let shape = [1, images.rows, images.cols];
            Ok((data::Split::from_idx(images, labels), shape))
        };
        let (train, shape) = split("training", train_images, train_labels)?;
        let (test, _) = split("test", test_images, test_labels)?;
        if train.features != test.features {
            return Err(JsError::new(&format!(
                "training images have {} pixels, test images {}; the files do not belong together",
                train.features, test.features
            )));
        }
        Ok(Dataset {
            inner: data::Dataset::new(&name, train, test, classes as usize, shape),
        })
    }

    /// CIFAR-10 from the official archive's tar (`cifar-10-binary.tar.gz` decompressed), optionally a
    /// stratified subset of `perClass` training images per class (the test split keeps a fifth
    /// as many per class) drawn with `seed`. Throws with a message naming what is wrong.
    #[wasm_bindgen(js_name = fromCifarArchive)]
    pub fn from_cifar_archive(
        archive: &[u8],
        per_class: Option<u32>,
        seed: Option<u32>,
    ) -> Result<Dataset, JsError> {
        let (train, test) = data::cifar::read_archive(archive).map_err(js_error)?;
        Dataset::cifar(train, test, per_class, seed)
    }

    /// CIFAR-10 from loose batch files (`data_batch_1.bin` … and `test_batch.bin`, classified by
    /// name); `names[i]` is the file name of `files[i]`.
    #[wasm_bindgen(js_name = fromCifarBatches)]
    pub fn from_cifar_batches(
        names: Vec<String>,
        files: Vec<js_sys::Uint8Array>,
        per_class: Option<u32>,
        seed: Option<u32>,
    ) -> Result<Dataset, JsError> {
        if names.len() != files.len() {
            return Err(JsError::new(&format!(
                "{} file names for {} files",
                names.len(),
                files.len()
            )));
        }
        let pairs: Vec<(String, Vec<u8>)> = names
            .into_iter()
            .zip(files.iter().map(js_sys::Uint8Array::to_vec))
            .collect();
        let (train, test) = data::cifar::read_batches(&pairs).map_err(js_error)?;
        Dataset::cifar(train, test, per_class, seed)
    }

    fn cifar(
        mut train: data::Split,
        mut test: data::Split,
        per_class: Option<u32>,
        seed: Option<u32>,
    ) -> Result<Dataset, JsError> {
        if let Some(per_class) = per_class {
            let seed = seed.unwrap_or(0) as u64;
            let per_class = per_class as usize;
            train = data::cifar::stratified_subset(&train, per_class, seed)
                .map_err(|e| JsError::new(&format!("training split: {e}")))?;
            test = data::cifar::stratified_subset(&test, (per_class / 5).max(1), seed)
                .map_err(|e| JsError::new(&format!("test split: {e}")))?;
        }
        Ok(Dataset {
            inner: data::Dataset::new("cifar10", train, test, 10, [3, 32, 32]),
        })
    }

    /// A new data set with a stratified sample of `perClass` training images of each class, drawn
    /// with `seed` (the same PCG32 draw as CIFAR-10's subsets); the test split stays whole.
    #[wasm_bindgen(js_name = withTrainSubset)]
    pub fn with_train_subset(&self, per_class: u32, seed: u32) -> Result<Dataset, JsError> {
        let mut inner = self.inner.clone();
        inner.train = data::cifar::stratified_subset(&inner.train, per_class as usize, seed as u64)
            .map_err(|e| JsError::new(&format!("training split: {e}")))?;
        Ok(Dataset { inner })
    }

    /// A new data set whose training split is images `from .. from + count` of this one's (in
    /// file order); the test split is this one's.
    #[wasm_bindgen(js_name = withTrainRange)]
    pub fn with_train_range(&self, from: u32, count: u32) -> Result<Dataset, JsError> {
        let mut inner = self.inner.clone();
        inner.train = self.train_range(from, count)?;
        Ok(Dataset { inner })
    }

    /// A new data set whose test split is training images `from .. from + count` (with their
    /// labels): what a model predicts for them, e.g. to pseudo-label a domain.
    #[wasm_bindgen(js_name = withTestFromTrain)]
    pub fn with_test_from_train(&self, from: u32, count: u32) -> Result<Dataset, JsError> {
        let mut inner = self.inner.clone();
        inner.test = self.train_range(from, count)?;
        Ok(Dataset { inner })
    }

    fn train_range(&self, from: u32, count: u32) -> Result<data::Split, JsError> {
        let (from, count) = (from as usize, count as usize);
        self.inner
            .train
            .range(from..from.saturating_add(count))
            .map_err(|e| JsError::new(&format!("training split: {e}")))
    }

    /// A new data set whose training split is `pixels` (`labels.length` images of this data
    /// set's shape) with `labels` (e.g. pseudo-labels); the test split is this one's.
    #[wasm_bindgen(js_name = withTrainImages)]
    pub fn with_train_images(&self, pixels: &[u8], labels: &[u8]) -> Result<Dataset, JsError> {
        let features = self.inner.train.features;
        if pixels.len() != labels.len() * features {
            return Err(JsError::new(&format!(
                "{} labels need {} bytes of pixels ({features} each), got {}",
                labels.len(),
                labels.len() * features,
                pixels.len()
            )));
        }
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= self.inner.classes) {
            return Err(JsError::new(&format!(
                "label {bad} is not one of the {} classes",
                self.inner.classes
            )));
        }
        let mut inner = self.inner.clone();
        inner.train = data::Split {
            pixels: pixels.to_vec(),
            labels: labels.to_vec(),
            count: labels.len(),
            features,
        };
        Ok(Dataset { inner })
    }

    /// One sample's shape, `[channels, height, width]`.
    #[wasm_bindgen(getter)]
    pub fn shape(&self) -> Vec<u32> {
        self.inner.shape.iter().map(|&d| d as u32).collect()
    }

    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// The test split's pixels, `testCount` × channels × height × width bytes (channel planes,
    /// as in the files), for pages that show test images; in file order, as the predictions.
    #[wasm_bindgen(js_name = testImages)]
    pub fn test_images(&self) -> js_sys::Uint8Array {
        js_sys::Uint8Array::from(self.inner.test.pixels.as_slice())
    }

    #[wasm_bindgen(getter, js_name = trainCount)]
    pub fn train_count(&self) -> usize {
        self.inner.train.count
    }

    #[wasm_bindgen(getter, js_name = testCount)]
    pub fn test_count(&self) -> usize {
        self.inner.test.count
    }
}

/// A training run on the browser's WebGPU device.
#[wasm_bindgen]
pub struct Trainer {
    inner: Rc<RefCell<train::Trainer>>,
    adapter: String,
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A request object (undefined or null: the defaults) with every key checked.
fn parse_request<T: serde::de::DeserializeOwned + Default>(
    value: &JsValue,
    keys: &[&str],
    what: &str,
) -> Result<T, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    config::check_object_keys(
        value,
        keys,
        &format!("invalid {what} request"),
        "{rows: 256}",
    )?;
    serde_wasm_bindgen::from_value(value.clone())
        .map_err(|e| JsError::new(&format!("invalid {what} request: {e}")))
}

/// `object[key] = value` (a typed array stays a typed array, which serde would turn into a list).
fn set(object: &js_sys::Object, key: &str, value: &JsValue) -> Result<(), JsValue> {
    js_sys::Reflect::set(object, &JsValue::from(key), value).map(|_| ())
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_error)
}

#[wasm_bindgen]
impl Trainer {
    /// `await Trainer.create(config, dataset)`: validates `config` (a plain object, see
    /// `WebConfig`), opens the GPU device, uploads the data and builds every plan.
    pub fn create(config: JsValue, dataset: &Dataset) -> js_sys::Promise {
        let parsed = WebConfig::from_js(config);
        let dataset = dataset.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let config = parsed.map_err(JsValue::from)?;
            let gpu = crate::gpu::Gpu::new()
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            // Browsers often hide the adapter's name; fall back to what WebGPU does tell.
            let adapter = match gpu.adapter_info.name.as_str() {
                "" => format!("WebGPU adapter ({:?})", gpu.adapter_info.device_type),
                _ => gpu.adapter_name(),
            };
            let trainer = train::Trainer::new(&gpu, config, &dataset, None)
                .map_err(|e| JsValue::from(JsError::new(&config::js_names(&e.to_string()))))?;
            Ok(JsValue::from(Trainer {
                inner: Rc::new(RefCell::new(trainer)),
                adapter,
            }))
        })
    }

    /// Submits up to `n` training steps (no readback; returns at once) and returns how many were
    /// taken: fewer when the run reaches its last step.
    pub fn step(&self, n: u32) -> Result<u32, JsError> {
        let mut trainer = self.inner.borrow_mut();
        trainer.gpu().check_health().map_err(js_error)?;
        let remaining = trainer.total_steps().saturating_sub(trainer.step);
        let n = (n as u64).min(remaining);
        for _ in 0..n {
            trainer.step();
        }
        Ok(n as u32)
    }

    /// `await trainer.metrics()`: the training metrics accumulated since the last call (then
    /// reset). Awaiting it also waits for the submitted steps.
    pub fn metrics(&self) -> js_sys::Promise {
        let (gpu, view) = {
            let trainer = self.inner.borrow();
            (trainer.gpu().clone(), trainer.train_metrics_view())
        };
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let acc = gpu
                .take_f32(&view)
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            let metrics = inner.borrow().interpret_train_metrics(&acc);
            Ok(to_js(&metrics)?)
        })
    }

    /// `await trainer.evaluate()`: loss and accuracy on the whole test split.
    pub fn evaluate(&self) -> js_sys::Promise {
        let (gpu, view) = {
            let mut trainer = self.inner.borrow_mut();
            let view = trainer.submit_evaluation();
            (trainer.gpu().clone(), view)
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let acc = gpu
                .take_f32(&view)
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            Ok(to_js(&EvalMetrics::from_accumulator(&acc))?)
        })
    }

    /// `await trainer.evaluateAverage()`: the SWA average on the test split, or null when SWA is
    /// off or has not started.
    #[wasm_bindgen(js_name = evaluateAverage)]
    pub fn evaluate_average(&self) -> js_sys::Promise {
        let (gpu, view) = {
            let mut trainer = self.inner.borrow_mut();
            let view = trainer.submit_average_evaluation();
            (trainer.gpu().clone(), view)
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let Some(view) = view else {
                return Ok(JsValue::NULL);
            };
            let acc = gpu
                .take_f32(&view)
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            Ok(to_js(&EvalMetrics::from_accumulator(&acc))?)
        })
    }

    /// `await trainer.predictTest()`: what the current weights predict for every test image, in
    /// the split's order: `{step, classes, predicted: Uint8Array, confidence: Float32Array (the
    /// predicted class's softmax probability), labels: Uint8Array}`. Free right after an
    /// evaluation (which writes them); otherwise it runs one evaluation pass first.
    #[wasm_bindgen(js_name = predictTest)]
    pub fn predict_test(&self) -> js_sys::Promise {
        let (gpu, view) = {
            let mut trainer = self.inner.borrow_mut();
            let view = trainer.submit_predictions();
            (trainer.gpu().clone(), view)
        };
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let words = gpu
                .read_words(&view)
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            let p = inner.borrow().interpret_predictions(&words);
            let result = js_sys::Object::new();
            set(&result, "step", &JsValue::from(p.step as f64))?;
            set(&result, "classes", &JsValue::from(p.classes as u32))?;
            set(
                &result,
                "predicted",
                &js_sys::Uint8Array::from(p.predicted.as_slice()),
            )?;
            set(
                &result,
                "confidence",
                &js_sys::Float32Array::from(p.confidence.as_slice()),
            )?;
            set(
                &result,
                "labels",
                &js_sys::Uint8Array::from(p.labels.as_slice()),
            )?;
            Ok(result.into())
        })
    }

    /// `await trainer.firstLayerWeights(maxUnits = 64)`: the first layer's weights, `{name (PyTorch's),
    /// shape (the whole tensor's: [units, inputs] for an MLP, [filters, channels, kh, kw] for a
    /// convolution), units (how many `values` holds), values: Float32Array (row-major)}`.
    #[wasm_bindgen(js_name = firstLayerWeights)]
    pub fn first_layer_weights(&self, max_units: Option<u32>) -> js_sys::Promise {
        let (gpu, first) = {
            let trainer = self.inner.borrow();
            let first = trainer.first_layer(max_units.unwrap_or(64) as usize);
            (trainer.gpu().clone(), first)
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let Some((weights, view)) = first else {
                return Err(JsError::new("the model has no weight matrix").into());
            };
            let values = gpu
                .read_f32(&view)
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            let result = js_sys::Object::new();
            set(&result, "name", &JsValue::from(weights.name.as_str()))?;
            set(&result, "shape", &to_js(&weights.shape)?)?;
            set(&result, "units", &JsValue::from(weights.units as u32))?;
            set(
                &result,
                "values",
                &js_sys::Float32Array::from(values.as_slice()),
            )?;
            Ok(result.into())
        })
    }

    /// `await trainer.sharpness(request)`: λ_max (power iteration), tr(H) (Hutchinson) and
    /// worst-case ρ-sharpness at the current weights, over the first `rows` test images with
    /// BatchNorm frozen (see `crate::sharpness::SharpnessRequest` for the keys and defaults). The
    /// weights are copied when called, so steps submitted meanwhile do not change the answer;
    /// `scale` ≠ 1 rescales that copy (an MLP's layer 1 ×scale, layer 2 ×1/scale: the same
    /// function, for ASAM's scale-invariance test).
    pub fn sharpness(&self, request: JsValue) -> js_sys::Promise {
        let parsed =
            parse_request::<SharpnessRequest>(&request, SharpnessRequest::KEYS, "sharpness")
                .and_then(|r| r.validate().map(|_| r).map_err(js_error));
        let prepared = parsed.as_ref().ok().map(|r| {
            let trainer = self.inner.borrow();
            let factors = sharpness::layer_rescaling(&trainer.model, r.scale);
            (trainer.probe(r.rows), factors)
        });
        wasm_bindgen_futures::future_to_promise(async move {
            let request = parsed.map_err(JsValue::from)?;
            // ok: built just above whenever the request parsed
            let (mut probe, factors) = prepared.expect("built when the request parsed");
            let factors = factors.map_err(|e| JsValue::from(JsError::new(&e)))?;
            probe
                .rescale(&factors)
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            let report = sharpness::measure(&mut probe, &request)
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            Ok(to_js(&report)?)
        })
    }

    /// `await trainer.landscape(request, against)`: a 1-D (`kind: "line"`) or 2-D (`"plane"`)
    /// slice of the loss along filter-normalised random directions, or the loss along the straight
    /// line to the weights of the safetensors checkpoint `against` (`"interpolation"`).
    pub fn landscape(&self, request: JsValue, against: Option<Vec<u8>>) -> js_sys::Promise {
        let parsed =
            parse_request::<LandscapeRequest>(&request, LandscapeRequest::KEYS, "landscape")
                .and_then(|r| r.validate().map(|_| r).map_err(js_error));
        let (probe, other) = match &parsed {
            Ok(r) => {
                let trainer = self.inner.borrow();
                let other = against.map(|bytes| trainer.weights_from_safetensors(&bytes));
                (Some(trainer.probe(r.rows)), other)
            }
            Err(_) => (None, None),
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let request = parsed.map_err(JsValue::from)?;
            let other = other.transpose().map_err(|e| JsValue::from(js_error(e)))?;
            let mut probe = probe.expect("built when the request parsed"); // ok: set just above
            let report = sharpness::landscape(&mut probe, &request, other.as_deref())
                .await
                .map_err(|e| JsValue::from(JsError::new(&e)))?;
            Ok(to_js(&report)?)
        })
    }

    /// Test hook: destroys the GPU device, as a driver reset would (tests/page: the page must say
    /// so and Restart must carry on from the weights it kept).
    #[wasm_bindgen(js_name = loseDevice)]
    pub fn lose_device(&self) {
        self.inner.borrow().gpu().lose_device();
    }

    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&self, lr: f64) -> Result<(), JsError> {
        self.inner
            .borrow_mut()
            .set_learning_rate(lr)
            .map_err(js_error)
    }

    #[wasm_bindgen(js_name = setRho)]
    pub fn set_rho(&self, rho: f64) -> Result<(), JsError> {
        self.inner.borrow_mut().set_rho(rho).map_err(js_error)
    }

    /// Evaluate on shifted test images from now on (MNIST-C style, computed on the GPU from the
    /// originals): `"rotate:DEGREES"`, `"noise:SIGMA"`, `"blur:SIGMA"`, `"contrast:C"`, or
    /// `"none"`/null for the images as loaded. Training images are never shifted.
    #[wasm_bindgen(js_name = setTestShift)]
    pub fn set_test_shift(&self, shift: Option<String>) -> Result<(), JsError> {
        let shift = match shift.as_deref().map(str::trim) {
            None | Some("none") | Some("") => None,
            Some(text) => Some(
                data::Shift::parse(text).map_err(|e| JsError::new(&format!("testShift: {e}")))?,
            ),
        };
        self.inner
            .borrow_mut()
            .set_test_shift(shift)
            .map_err(|e| JsError::new(&format!("testShift: {e}")))
    }

    /// `await trainer.testImages()`: the test images as evaluations see them (shifted when
    /// `setTestShift` chose a shift), `testCount` × channels × height × width bytes in file order.
    #[wasm_bindgen(js_name = testImages)]
    pub fn test_images(&self) -> js_sys::Promise {
        let (gpu, (view, bytes)) = {
            let trainer = self.inner.borrow();
            (trainer.gpu().clone(), trainer.test_pixels())
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let pixels = data::read_pixel_bytes(&gpu, &view, bytes)
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            Ok(js_sys::Uint8Array::from(pixels.as_slice()).into())
        })
    }

    /// `await trainer.saveWeights()`: the weights (and BatchNorm's running statistics) as
    /// safetensors bytes with PyTorch names and layouts.
    #[wasm_bindgen(js_name = saveWeights)]
    pub fn save_weights(&self) -> js_sys::Promise {
        let (gpu, view, state_view, model, steps) = {
            let trainer = self.inner.borrow();
            (
                trainer.gpu().clone(),
                trainer.params_view(),
                trainer.running_statistics_view(),
                trainer.model.clone(),
                trainer.step,
            )
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let read = |view| {
                let gpu = gpu.clone();
                async move {
                    gpu.read_f32(&view)
                        .await
                        .map_err(|e| JsValue::from(js_error(e)))
                }
            };
            let flat = read(view).await?;
            let state = match model.has_batch_norm() {
                true => Some(read(state_view).await?),
                false => None,
            };
            let bytes = train::checkpoint_bytes(&model, flat, state, steps);
            Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// Replaces the weights from safetensors bytes; throws naming the tensor and both shapes when
    /// they do not fit this model. The optimizer state starts fresh.
    #[wasm_bindgen(js_name = loadWeights)]
    pub fn load_weights(&self, bytes: &[u8]) -> Result<(), JsError> {
        self.inner
            .borrow_mut()
            .load_safetensors(bytes)
            .map_err(js_error)
    }

    #[wasm_bindgen(getter, js_name = stepCount)]
    pub fn step_count(&self) -> f64 {
        self.inner.borrow().step as f64
    }

    #[wasm_bindgen(getter, js_name = totalSteps)]
    pub fn total_steps(&self) -> f64 {
        self.inner.borrow().total_steps() as f64
    }

    #[wasm_bindgen(getter, js_name = stepsPerEpoch)]
    pub fn steps_per_epoch(&self) -> f64 {
        self.inner.borrow().steps_per_epoch as f64
    }

    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> f64 {
        self.inner.borrow().epoch()
    }

    #[wasm_bindgen(getter, js_name = passesPerStep)]
    pub fn passes_per_step(&self) -> f64 {
        self.inner.borrow().passes_per_step()
    }

    #[wasm_bindgen(getter, js_name = learningRate)]
    pub fn learning_rate(&self) -> f64 {
        self.inner.borrow().learning_rate()
    }

    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> String {
        self.adapter.clone()
    }
}
