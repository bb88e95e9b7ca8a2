//! Three consecutive training steps of a small MLP for every base optimizer and SAM form, against
//! tests/golden/mlp_steps.json (JAX, float64, davda54/sam and PyTorch optimizer semantics;
//! regenerate with `python3 tests/golden/make_fixtures.py`). Runs the real step engine: the same
//! plan, kernels and SAM loop as training, with the batch uploaded instead of gathered. Shared with
//! the browser suite (tests/cases).
#![cfg(not(target_arch = "wasm32"))] // native suite; the browser suite is tests/web.rs

mod cases;
mod common;

#[test]
fn three_steps_match_the_reference_for_every_optimizer_and_sam_form() {
    common::block_on(cases::three_steps_match_the_reference(&common::gpu()));
}

#[test]
fn sam_variants_match_the_reference() {
    common::block_on(cases::sam_variants_match_the_reference(&common::gpu()));
}

#[test]
fn neutral_settings_reduce_to_sam_or_the_base_optimizer() {
    common::block_on(cases::neutral_settings_reduce_to_sam_or_the_base_optimizer(
        &common::gpu(),
    ));
}

#[test]
fn zero_gradient_gives_no_nan_for_any_variant() {
    common::block_on(cases::zero_gradient_gives_no_nan(&common::gpu()));
}

#[test]
fn sampa_matches_the_reference() {
    common::block_on(cases::sampa_matches_the_reference(&common::gpu()));
}

#[test]
fn ssam_matches_the_reference() {
    common::block_on(cases::ssam_matches_the_reference(&common::gpu()));
}

#[test]
fn rsam_and_mup2_match_the_reference() {
    common::block_on(cases::fixture_variants_match_the_reference(
        &common::gpu(),
        include_str!("golden/rsam_mup2.json"),
        6,
    ));
}

#[test]
fn esam_and_ssam_d_match_the_reference() {
    common::block_on(cases::fixture_variants_match_the_reference(
        &common::gpu(),
        include_str!("golden/esam_ssamd.json"),
        6,
    ));
}
