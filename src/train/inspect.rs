//! Looking at the model: what the current weights predict for each test image, and the first
//! layer's weights. The predictions come from the evaluation pass itself (its loss kernel writes
//! each row's predicted class and probability as it counts the correct ones, see
//! `ops::PredictionSink`), so they cost no forward pass of their own and always agree with the
//! evaluation's accuracy.

use super::{TrainError, Trainer};
use crate::gpu::BufView;

/// The prediction of one set of weights for every test sample, in the split's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestPredictions {
    /// The training step of the weights that made them.
    pub step: u64,
    /// Predicted class per sample (labels are bytes, so every class fits one).
    pub predicted: Vec<u8>,
    /// The softmax probability of the predicted class.
    pub confidence: Vec<f32>,
    /// The true labels.
    pub labels: Vec<u8>,
    pub classes: usize,
}

impl TestPredictions {
    /// Samples whose prediction is their label.
    pub fn correct(&self) -> usize {
        self.predicted
            .iter()
            .zip(&self.labels)
            .filter(|(p, l)| p == l)
            .count()
    }

    /// Counts by true label (row) and prediction (column), row-major, `classes` × `classes`.
    pub fn confusion_matrix(&self) -> Vec<u64> {
        let n = self.classes;
        let mut matrix = vec![0u64; n * n];
        for (&p, &l) in self.predicted.iter().zip(&self.labels) {
            let (p, l) = (p as usize, l as usize);
            if p < n && l < n {
                matrix[l * n + p] += 1;
            }
        }
        matrix
    }

    /// The share of each class's samples predicted right (None for a class with no samples).
    pub fn class_accuracy(&self) -> Vec<Option<f64>> {
        let n = self.classes;
        let matrix = self.confusion_matrix();
        (0..n)
            .map(|c| {
                let row = &matrix[c * n..(c + 1) * n];
                let total: u64 = row.iter().sum();
                (total > 0).then(|| row[c] as f64 / total as f64)
            })
            .collect()
    }
}

/// The first layer's weights: for an MLP each hidden unit's input weights (`shape` `[units,
/// inputs]`), for a convolutional model the first convolution's kernels (`[filters, channels, kh,
/// kw]`); `values` holds the first `units` of them, row-major.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FirstLayerWeights {
    /// PyTorch's name of the tensor (e.g. `0.weight`, `conv1.weight`).
    pub name: String,
    /// The whole tensor's shape.
    pub shape: Vec<usize>,
    /// How many units (rows of the first dimension) `values` holds.
    pub units: usize,
    pub values: Vec<f32>,
}

impl Trainer {
    /// Whether the predictions buffer holds the current weights' predictions (the last
    /// evaluation ran at them).
    pub fn has_current_predictions(&self) -> bool {
        self.predictions_step == Some(self.step)
    }

    /// Makes the current weights' predictions ready and returns the buffer to read (with
    /// `interpret_predictions`): free when the last evaluation ran at these weights (the usual
    /// case: the page inspects after an evaluation), otherwise one evaluation pass.
    pub fn submit_predictions(&mut self) -> BufView {
        if !self.has_current_predictions() {
            self.submit_evaluation();
        }
        self.predictions.clone()
    }

    /// Turns a read of the predictions buffer (`2 × samples` words: classes, then the
    /// probabilities' f32 bits) into `TestPredictions`.
    pub fn interpret_predictions(&self, words: &[u32]) -> TestPredictions {
        let count = self.test_labels.len();
        let total = words.len() / 2;
        TestPredictions {
            step: self.predictions_step.unwrap_or(self.step),
            predicted: words[..count].iter().map(|&c| c as u8).collect(),
            confidence: words[total..total + count]
                .iter()
                .map(|&bits| f32::from_bits(bits))
                .collect(),
            labels: self.test_labels.clone(),
            classes: self.model.classes(),
        }
    }

    /// What the current weights predict for every test sample.
    pub async fn predict_test(&mut self) -> Result<TestPredictions, TrainError> {
        let view = self.submit_predictions();
        let words = self.gpu.read_words(&view).await?;
        Ok(self.interpret_predictions(&words))
    }

    /// The first layer's weight tensor (the first parameter of two or more dimensions) limited to
    /// its first `max_units` units: its description (no values yet) and the GPU view to read.
    pub fn first_layer(&self, max_units: usize) -> Option<(FirstLayerWeights, BufView)> {
        let spec = self
            .model
            .layout
            .specs
            .iter()
            .find(|s| s.shape.len() >= 2)?;
        let units = spec.shape[0].min(max_units);
        let per_unit = spec.len() / spec.shape[0].max(1);
        let view = self.params.slice(spec.offset, units * per_unit);
        let weights = FirstLayerWeights {
            name: spec.name.clone(),
            shape: spec.shape.clone(),
            units,
            values: Vec::new(),
        };
        Some((weights, view))
    }

    /// The first `max_units` units of the first layer's weights (see `FirstLayerWeights`).
    pub async fn first_layer_weights(
        &self,
        max_units: usize,
    ) -> Result<FirstLayerWeights, TrainError> {
        let Some((mut weights, view)) = self.first_layer(max_units) else {
            return Err(TrainError::Config("the model has no weight matrix".into()));
        };
        weights.values = self.gpu.read_f32(&view).await?;
        Ok(weights)
    }
}
