//! `checkpoint::from_safetensors` on arbitrary bytes for a fixed small layout (the [4, 3, 2]
//! MLP: 0.weight [3, 4], 0.bias [3], 2.weight [2, 3], 2.bias [2]). It must return `Ok` or a
//! `CheckpointError`, never panic or allocate what the bytes do not hold. On `Ok`, writing the
//! weights back and reading them again must give the same weights.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use samlab::nn::{Model, ParamLayout};
use samlab::train::checkpoint::{from_safetensors, to_safetensors};
use samlab_fuzz::Bound;

samlab_fuzz::guard_allocations!();

fn layout() -> &'static ParamLayout {
    static LAYOUT: OnceLock<ParamLayout> = OnceLock::new();
    LAYOUT.get_or_init(|| Model::mlp(&[4, 3, 2]).checkpoint_layout())
}

fuzz_target!(|data: &[u8]| {
    let _bound = Bound::for_input(data);
    let layout = layout();
    if let Ok(flat) = from_safetensors(layout, data) {
        assert_eq!(flat.len(), layout.total_len);
        assert!(flat.iter().all(|v| v.is_finite()));
        let again = from_safetensors(layout, &to_safetensors(layout, &flat)).unwrap();
        assert_eq!(
            flat.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            again.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
});
