//! Looking at the model (`Trainer::predict_test`, `Trainer::first_layer_weights`): the predictions
//! agree with the evaluation's accuracy and with an independent CPU forward pass, follow the
//! weights (steps, loads), and the first layer's weights are the tensor's first units.
#![cfg(not(target_arch = "wasm32"))] // native suite; the browser half is tests/page/inspect.test.mjs

mod common;

use std::path::Path;

use common::{block_on, gpu};
use samlab::data::Dataset;
use samlab::train::{ModelKind, TestPredictions, TrainConfig, Trainer};

fn embedded_mnist() -> Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    Dataset::load_idx_dir("mnist", &dir).unwrap_or_else(|e| {
        panic!("embedded MNIST missing or unreadable ({e}); run `npm run setup` first")
    })
}

/// An MLP 784-64-10 with plain SGD, evaluated in batches of 300 (2,000 test images: six full
/// batches and a partial one, so every cursor offset and the padding rows are exercised).
fn small_mlp() -> TrainConfig {
    TrainConfig {
        hidden: vec![64],
        epochs: 1,
        seed: 3,
        eval_batch_size: 300,
        ..TrainConfig::default()
    }
}

fn train(trainer: &mut Trainer, steps: u64) {
    for _ in 0..steps {
        trainer.step();
    }
}

/// The checks every set of predictions must pass against its evaluation.
fn assert_consistent(p: &TestPredictions, dataset: &Dataset, correct: u64, samples: u64) {
    let n = dataset.test.count;
    assert_eq!(samples as usize, n, "the evaluation covers the test split");
    assert_eq!((p.predicted.len(), p.confidence.len()), (n, n));
    assert_eq!(p.labels, dataset.test.labels, "labels in the split's order");
    assert_eq!(
        p.correct() as u64,
        correct,
        "predictions equal to the label vs the evaluation's correct count"
    );
    let classes = p.classes;
    assert_eq!(classes, 10);
    let matrix = p.confusion_matrix();
    assert_eq!(matrix.iter().sum::<u64>() as usize, n, "matrix total");
    for c in 0..classes {
        let row: u64 = matrix[c * classes..(c + 1) * classes].iter().sum();
        let column: u64 = (0..classes).map(|r| matrix[r * classes + c]).sum();
        let labelled = p.labels.iter().filter(|&&l| l as usize == c).count() as u64;
        let predicted = p.predicted.iter().filter(|&&q| q as usize == c).count() as u64;
        assert_eq!(row, labelled, "row {c} sums to the samples labelled {c}");
        assert_eq!(
            column, predicted,
            "column {c} sums to the samples predicted {c}"
        );
        let accuracy = p.class_accuracy()[c].expect("every digit is in the test split");
        assert_eq!(accuracy, matrix[c * classes + c] as f64 / row as f64);
    }
    let diagonal: u64 = (0..classes).map(|c| matrix[c * classes + c]).sum();
    assert_eq!(diagonal, correct, "the diagonal is the correct count");
    for (i, &q) in p.confidence.iter().enumerate() {
        // The predicted class is the most likely one: at least 1/classes, at most 1.
        assert!(
            q >= 1.0 / classes as f32 - 1e-6 && q <= 1.0 + 1e-6,
            "sample {i}: confidence {q}"
        );
    }
}

/// Logits of the MLP for test sample `i`, on the CPU from the flat weights (layout order).
fn cpu_logits(trainer: &Trainer, flat: &[f32], dataset: &Dataset, i: usize) -> Vec<f32> {
    let norm = dataset.normalisation();
    let features = dataset.test.features;
    let mut h: Vec<f32> = dataset.test.pixels[i * features..(i + 1) * features]
        .iter()
        .map(|&b| (b as f32 / 255.0 - norm.mean[0]) / norm.std[0])
        .collect();
    let specs = &trainer.model.layout.specs;
    for (layer, pair) in specs.chunks(2).enumerate() {
        let (weight, bias) = (&pair[0], &pair[1]);
        let (outputs, inputs) = (weight.shape[0], weight.shape[1]);
        let w = &flat[weight.offset..weight.offset + weight.len()];
        let b = &flat[bias.offset..bias.offset + bias.len()];
        let last = layer + 1 == specs.len() / 2;
        h = (0..outputs)
            .map(|o| {
                let z = b[o] + (0..inputs).map(|k| w[o * inputs + k] * h[k]).sum::<f32>();
                if last {
                    z
                } else {
                    z.max(0.0)
                }
            })
            .collect();
    }
    h
}

#[test]
fn predictions_agree_with_the_evaluation_and_a_cpu_forward_pass() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    let mut trainer = Trainer::new(&gpu, small_mlp(), &dataset, None).unwrap();
    train(&mut trainer, 40);
    let evaluation = block_on(trainer.evaluate()).unwrap();
    // Right after an evaluation the predictions are already there: no second pass.
    assert!(
        trainer.has_current_predictions(),
        "the evaluation at this step wrote them"
    );
    let p = block_on(trainer.predict_test()).unwrap();
    assert_eq!(p.step, 40);
    let correct = (evaluation.accuracy * evaluation.samples as f64).round() as u64;
    assert!(
        (0.5..0.99).contains(&evaluation.accuracy),
        "40 steps: some right, some wrong ({})",
        evaluation.accuracy
    );
    assert_consistent(&p, &dataset, correct, evaluation.samples);

    // An independent reference: the same MLP on the CPU. Classes agree except where the two best
    // logits are closer than float rounding can decide; probabilities agree to 1e-4.
    let flat = block_on(trainer.weights()).unwrap();
    let mut undecided = 0;
    for i in 0..dataset.test.count {
        let logits = cpu_logits(&trainer, &flat, &dataset, i);
        let best = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let class = logits.iter().position(|&z| z == best).unwrap();
        let sum: f32 = logits.iter().map(|&z| (z - best).exp()).sum();
        let predicted = p.predicted[i] as usize;
        if predicted != class {
            let gap = (logits[class] - logits[predicted]).abs();
            assert!(
                gap < 1e-4,
                "sample {i}: GPU says {predicted}, CPU says {class} (logit gap {gap})"
            );
            undecided += 1;
            continue;
        }
        let q = p.confidence[i];
        assert!(
            (q - 1.0 / sum).abs() < 1e-4,
            "sample {i}: confidence {q}, CPU softmax {}",
            1.0 / sum
        );
    }
    assert!(undecided <= 2, "{undecided} near-ties");
}

#[test]
fn predictions_follow_steps_and_loaded_weights() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    let mut trainer = Trainer::new(&gpu, small_mlp(), &dataset, None).unwrap();
    train(&mut trainer, 5);
    let early = block_on(trainer.predict_test()).unwrap();
    let early_weights = block_on(trainer.save_safetensors()).unwrap();
    train(&mut trainer, 45);
    // Stale after the steps: predict_test runs its own evaluation pass, which the next
    // evaluation does not count twice.
    assert!(!trainer.has_current_predictions());
    let later = block_on(trainer.predict_test()).unwrap();
    assert_eq!(later.step, 50);
    let evaluation = block_on(trainer.evaluate()).unwrap();
    let correct = (evaluation.accuracy * evaluation.samples as f64).round() as u64;
    assert_consistent(&later, &dataset, correct, evaluation.samples);
    assert_ne!(
        early.predicted, later.predicted,
        "45 more steps change some predictions"
    );
    assert!(later.correct() > early.correct());

    // Loaded weights make the predictions stale too, whatever the step.
    trainer.load_safetensors(&early_weights).unwrap();
    let reloaded = block_on(trainer.predict_test()).unwrap();
    assert_eq!(reloaded.predicted, early.predicted);
    assert_eq!(reloaded.confidence, early.confidence);
}

#[test]
fn a_convolutional_model_predicts_what_it_evaluates_and_shows_its_kernels() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    let config = TrainConfig {
        model: ModelKind::Lenet,
        batch_size: 32,
        ..small_mlp()
    };
    let mut trainer = Trainer::new(&gpu, config, &dataset, None).unwrap();
    train(&mut trainer, 20);
    let evaluation = block_on(trainer.evaluate()).unwrap();
    let p = block_on(trainer.predict_test()).unwrap();
    let correct = (evaluation.accuracy * evaluation.samples as f64).round() as u64;
    assert_consistent(&p, &dataset, correct, evaluation.samples);

    let first = block_on(trainer.first_layer_weights(64)).unwrap();
    assert_eq!(first.name, "0.weight");
    assert_eq!(first.shape, vec![6, 1, 5, 5]);
    assert_eq!(first.units, 6, "all six filters (fewer than 64)");
    let flat = block_on(trainer.weights()).unwrap();
    let spec = trainer.model.layout.get("0.weight").unwrap();
    assert_eq!(first.values, flat[spec.offset..spec.offset + 150].to_vec());
}

#[test]
fn the_first_layer_of_an_mlp_is_its_first_units_input_weights() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    let config = TrainConfig {
        hidden: vec![100, 32],
        ..small_mlp()
    };
    let mut trainer = Trainer::new(&gpu, config, &dataset, None).unwrap();
    train(&mut trainer, 3);
    let first = block_on(trainer.first_layer_weights(64)).unwrap();
    let spec = &trainer.model.layout.specs[0];
    assert_eq!(first.name, spec.name);
    assert_eq!(first.shape, vec![100, 784]);
    assert_eq!(first.units, 64, "capped at 64 of the 100 hidden units");
    let flat = block_on(trainer.weights()).unwrap();
    assert_eq!(
        first.values,
        flat[spec.offset..spec.offset + 64 * 784].to_vec()
    );
}
