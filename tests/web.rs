//! The browser suite: `npm run test:wasm` (wasm-pack test --headless --chrome, WebGPU on
//! SwiftShader here). It runs the same cases as the native suite (tests/cases) through the
//! browser's WebGPU, plus the JS-facing checks of the wasm API.
#![cfg(target_arch = "wasm32")]

mod cases;

use std::sync::Arc;

use samlab::gpu::Gpu;
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

#[wasm_bindgen_test]
async fn sam_variants_match_the_reference_on_webgpu() {
    let gpu = gpu().await;
    cases::sam_variants_match_the_reference(&gpu).await;
    cases::neutral_settings_reduce_to_sam_or_the_base_optimizer(&gpu).await;
    cases::zero_gradient_gives_no_nan(&gpu).await;
    cases::sampa_matches_the_reference(&gpu).await;
}
