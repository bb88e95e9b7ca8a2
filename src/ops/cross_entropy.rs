use crate::autograd::{Graph, TensorId};
use crate::gpu::{grid_1d, BufView, Kernel};

/// The outputs of the fused loss: the scalar loss tensor (the root of backward) and the statistics
/// buffer `[mean loss, correct, valid rows, non-finite rows]` that metrics read on the GPU.
pub struct CrossEntropy {
    pub loss: TensorId,
    pub stats: BufView,
}

/// Mean cross-entropy of `logits` [rows, classes] against `labels` (u32 per row; values ≥ classes
/// are ignored), with PyTorch's label smoothing. Numerically stable log-softmax; the gradient
/// (softmax − smoothed one-hot)/valid comes from a kernel that reuses the forward's log-sum-exp.
pub fn cross_entropy(
    g: &mut Graph,
    logits: TensorId,
    labels: &BufView,
    label_smoothing: f32,
) -> CrossEntropy {
    cross_entropy_with_rows(g, logits, labels, label_smoothing, None)
}

/// `cross_entropy` that also writes each row's loss into `row_loss` (0 for padding rows).
pub fn cross_entropy_with_rows(
    g: &mut Graph,
    logits: TensorId,
    labels: &BufView,
    label_smoothing: f32,
    row_loss: Option<&BufView>,
) -> CrossEntropy {
    cross_entropy_writing(g, logits, labels, label_smoothing, row_loss, None)
}

/// Where an evaluation pass writes its predictions: the split's cursor (`[start, end, _, _]`,
/// the sample in the batch's first row) and a buffer of 2 × `total` words, the predicted class
/// of sample s at s and its softmax probability (f32 bits) at `total` + s.
pub struct PredictionSink<'a> {
    pub cursor: &'a BufView,
    pub predictions: &'a BufView,
    pub total: usize,
}

/// `cross_entropy` whose forward also writes each row's prediction into `sink`: the class its
/// accuracy count takes (the first maximal logit), so predictions and accuracy always agree.
pub fn cross_entropy_with_predictions(
    g: &mut Graph,
    logits: TensorId,
    labels: &BufView,
    sink: &PredictionSink,
) -> CrossEntropy {
    cross_entropy_writing(g, logits, labels, 0.0, None, Some(sink))
}

fn cross_entropy_writing(
    g: &mut Graph,
    logits: TensorId,
    labels: &BufView,
    label_smoothing: f32,
    row_loss: Option<&BufView>,
    sink: Option<&PredictionSink>,
) -> CrossEntropy {
    // ok: graph-construction bug (both variants bind slot 4)
    assert!(
        row_loss.is_none() || sink.is_none(),
        "row losses and predictions are separate variants"
    );
    let shape = g.shape(logits).to_vec();
    assert_eq!(
        shape.len(),
        2,
        "cross_entropy expects [rows, classes] logits"
    ); // ok: graph-construction bug
    let (rows, classes) = (shape[0], shape[1]);
    // Read by the metrics after the step's other passes: never recycled.
    let stats = g.alloc_persistent(4);
    let row_lse = g.alloc(rows);
    let lv = g.data(logits).clone();
    let loss_view = stats.slice(0, 1);
    let loss = g.output_in(loss_view, &[1], &[logits]);
    let kernel = move |k: Kernel| {
        k.constant("ROWS", rows as u32)
            .constant("CLASSES", classes as u32)
            .constant("SMOOTHING", label_smoothing)
    };
    let mut bindings = vec![&lv, labels, &stats, &row_lse];
    bindings.extend(row_loss);
    let mut forward = Kernel::new("cross_entropy")
        .define("FORWARD")
        .define_if(row_loss.is_some(), "ROW_LOSS");
    if let Some(sink) = sink {
        assert_eq!(
            sink.predictions.len,
            2 * sink.total,
            "predictions hold 2 words per sample"
        ); // ok: graph-construction bug
        forward = forward
            .define("PREDICT")
            .constant("TOTAL", sink.total as u32);
        bindings.extend([sink.cursor, sink.predictions]);
    }
    g.launch(&kernel(forward), &bindings, [1, 1, 1]);
    let labels = labels.clone();
    let stats_for_backward = stats.clone();
    g.record(loss, move |g, dloss| {
        let dloss = dloss.clone();
        g.contribute_grad(logits, |g, dx| {
            g.launch(
                &kernel(Kernel::new("cross_entropy")),
                &[&lv, &labels, &stats_for_backward, &row_lse, &dloss, dx],
                grid_1d(rows * classes),
            );
        });
    });
    CrossEntropy { loss, stats }
}
