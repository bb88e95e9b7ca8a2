//! The browser suite: `npm run test:wasm` (wasm-pack test --headless --chrome, WebGPU on
//! SwiftShader here). It runs the same cases as the native suite (tests/cases) through the
//! browser's WebGPU, plus the JS-facing checks of the wasm API.
#![cfg(target_arch = "wasm32")]

mod cases;

use std::sync::Arc;

use samlab::gpu::Gpu;
use samlab::optim::Schedule;
use samlab::web::WebConfig;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn gpu() -> Arc<Gpu> {
    Gpu::new()
        .await
        .expect("a WebGPU adapter (start Chrome with --enable-unsafe-webgpu)")
}

#[wasm_bindgen_test]
async fn every_op_matches_the_jax_fixtures_on_webgpu() {
    cases::ops_match_the_jax_fixtures(&gpu().await).await;
}

#[wasm_bindgen_test]
async fn conv_pool_and_batch_norm_match_the_jax_fixtures_on_webgpu() {
    cases::conv_ops_match_the_jax_fixtures(&gpu().await).await;
}

#[wasm_bindgen_test]
async fn ssam_matches_the_reference_on_webgpu() {
    cases::ssam_matches_the_reference(&gpu().await).await;
}

#[wasm_bindgen_test]
async fn rsam_and_mup2_match_the_reference_on_webgpu() {
    cases::fixture_variants_match_the_reference(
        &gpu().await,
        include_str!("golden/rsam_mup2.json"),
        6,
    )
    .await;
}

#[wasm_bindgen_test]
async fn esam_and_ssam_d_match_the_reference_on_webgpu() {
    cases::fixture_variants_match_the_reference(
        &gpu().await,
        include_str!("golden/esam_ssamd.json"),
        6,
    )
    .await;
}

#[wasm_bindgen_test]
async fn matmul_matches_cpu_reference_on_webgpu() {
    cases::matmul_matches_cpu_reference_on_awkward_shapes(&gpu().await).await;
}

#[wasm_bindgen_test]
async fn matmul_every_tiling_matches_cpu_reference_on_webgpu() {
    cases::matmul_every_tiling_matches_cpu_reference(&gpu().await).await;
}

#[wasm_bindgen_test]
async fn optimizer_and_sam_steps_match_the_reference_on_webgpu() {
    cases::three_steps_match_the_reference(&gpu().await).await;
}

fn config(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in pairs {
        js_sys::Reflect::set(&object, &JsValue::from_str(key), value).unwrap();
    }
    object.into()
}

fn config_error(pairs: &[(&str, JsValue)]) -> String {
    let error = WebConfig::from_js(config(pairs)).expect_err("config must be rejected");
    js_sys::Error::from(JsValue::from(error)).message().into()
}

#[wasm_bindgen_test]
fn bad_js_configs_are_rejected_with_the_key_named() {
    assert!(config_error(&[("learningRate", 0.1.into())]).contains("learningRate"));
    assert!(config_error(&[("lr", (-1.0).into())]).contains("lr"));
    assert!(config_error(&[("rho", f64::NAN.into()), ("sam", "sam".into())]).contains("rho"));
    assert!(config_error(&[("batchSize", 0.into())]).contains("batchSize"));
    assert!(config_error(&[("batchSize", 1.5.into())]).contains("batchSize"));
    assert!(config_error(&[("labelNoise", 1.into())]).contains("labelNoise"));
    assert!(config_error(&[("optimizer", "rmsprop".into())]).contains("rmsprop"));
    assert!(config_error(&[("sam", "gsam2".into())]).contains("gsam2"));
    assert!(config_error(&[("sam", "looksam".into()), ("k", 0.into())]).contains("k must be"));
    assert!(config_error(&[("sam", "msharp".into()), ("m", 48.into())]).contains("multiple of m"));
    assert!(config_error(&[("lr", "fast".into())]).contains("invalid config"));
    let ok = WebConfig::from_js(config(&[
        ("optimizer", "adam".into()),
        ("sam", "asam".into()),
    ]));
    let ok = ok.unwrap_or_else(|_| panic!("a valid config was rejected"));
    assert_eq!(ok.optimizer.lr, 0.001, "adam's default lr");
    assert_eq!(ok.sam.rho(), 0.5, "official ASAM's default rho");
}

/// `WebConfig` reads each key by hand (no serde): every kind of value arrives where it belongs.
#[wasm_bindgen_test]
fn js_configs_are_read_key_by_key() {
    let widths = js_sys::Array::of2(&64.into(), &32.into());
    let ok = WebConfig::from_js(config(&[
        ("hidden", widths.into()),
        ("momentum", 0.5.into()),
        ("nesterov", true.into()),
        ("weightDecay", 1e-4.into()),
        ("schedule", "step:2:1e-1".into()),
        ("batchSize", 32.into()),
        ("epochs", 3.into()),
        ("seed", 7.into()),
        ("shuffle", false.into()),
        ("labelSmoothing", 0.1.into()),
        ("dropout", JsValue::NULL),
    ]))
    .unwrap_or_else(|_| panic!("a valid config was rejected"));
    assert_eq!(ok.hidden, vec![64, 32]);
    assert_eq!(ok.optimizer.momentum, 0.5);
    assert!(ok.optimizer.nesterov);
    assert_eq!(ok.optimizer.weight_decay, 1e-4);
    let step = Schedule::Step {
        step_epochs: 2,
        gamma: 0.1,
    };
    assert_eq!(ok.schedule, step);
    assert_eq!((ok.batch_size, ok.epochs, ok.seed), (32, 3, 7));
    assert!(!ok.shuffle);
    assert_eq!(ok.label_smoothing, 0.1);
    assert_eq!(ok.dropout, 0.0, "null is the default");
}

/// On wasm32 `Schedule::parse` reads gamma with the browser's `parseFloat` after its own syntax
/// check (core's parser and its table stay out of the page): Rust's `str::parse` is the reference.
#[wasm_bindgen_test]
fn schedule_gamma_parses_like_str_parse() {
    for text in [
        "0.1",
        "1e-1",
        ".5",
        "5.",
        "+0.25",
        "2.5E+0",
        "0.30000000000000004",
        "1e-320",
    ] {
        let parsed = Schedule::parse(&format!("step:2:{text}"));
        let want = Schedule::Step {
            step_epochs: 2,
            gamma: text.parse().unwrap(),
        };
        assert_eq!(parsed, Ok(want), "{text}");
    }
    for text in [
        "", "abc", "0x1", "1e", "1.5.2", "1,5", "--1", " 1", "1 ", ".", "e5", "inf", "nan",
    ] {
        assert!(
            Schedule::parse(&format!("step:2:{text}")).is_err(),
            "{text:?} was accepted"
        );
    }
}

#[wasm_bindgen_test]
async fn sam_variants_match_the_reference_on_webgpu() {
    let gpu = gpu().await;
    cases::sam_variants_match_the_reference(&gpu).await;
    cases::neutral_settings_reduce_to_sam_or_the_base_optimizer(&gpu).await;
    cases::zero_gradient_gives_no_nan(&gpu).await;
    cases::sampa_matches_the_reference(&gpu).await;
}
