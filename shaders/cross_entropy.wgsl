// Fused log-softmax + cross-entropy with optional label smoothing (PyTorch semantics):
//   loss_r = lse_r − (1−s)·x[r, y_r] − s·mean_c x[r, c],   lse_r = log Σ_c exp(x[r, c]),
// averaged over rows whose label is valid (< CLASSES; padding rows of a last partial batch carry
// 0xFFFFFFFF and are ignored). Stable: the row maximum is subtracted before exponentiating.
//
// FORWARD (one workgroup, fixed reduction order): stats = [mean loss, correct, valid rows,
// non-finite rows]; correct counts rows whose first maximal logit is the label (torch.argmax).
// It also keeps lse per row for the backward; ROW_LOSS also writes each row's loss (0 for padding
// rows), for ESAM's per-sample sharpness. PREDICT also writes, for each row r of the batch that
// holds test sample s = cursor.start + r (the evaluation reads the test split in file order), the
// class it counted (the same first maximal logit) at predictions[s] and that class's softmax
// probability at predictions[TOTAL + s]: the inspection panel's predictions cost no extra pass.
// BACKWARD: dx[r, c] = dloss · (softmax(x_r)_c − ((1−s)·[c = y_r] + s/C)) / valid.

override ROWS: u32;
override CLASSES: u32;
override SMOOTHING: f32 = 0.0;

//#if FORWARD
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_lse: array<f32>;
//#if ROW_LOSS
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;
//#endif
//#if PREDICT
override TOTAL: u32;

struct Cursor {
    start: u32,  // the test sample in the batch's first row
    end: u32,    // one past the last sample
    salt: u32,
    pad1: u32,
}

@group(0) @binding(4) var<uniform> cursor: Cursor;
@group(0) @binding(5) var<storage, read_write> predictions: array<u32>;
//#endif

var<workgroup> lanes: array<vec4<f32>, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lane: u32) {
    var total = vec4<f32>(0.0);
    for (var r = lane; r < ROWS; r = r + 256u) {
        let base = r * CLASSES;
        var best = logits[base];
        var best_class = 0u;
        var sum_x = 0.0;
        for (var c = 0u; c < CLASSES; c = c + 1u) {
            let v = logits[base + c];
            if (v > best) { best = v; best_class = c; }
            sum_x = sum_x + v;
        }
        var sum_exp = 0.0;
        for (var c = 0u; c < CLASSES; c = c + 1u) {
            sum_exp = sum_exp + exp(logits[base + c] - best);
        }
        let lse = best + log(sum_exp);
        row_lse[r] = lse;
        let label = labels[r];
//#if PREDICT
        let sample = cursor.start + r;
        if (sample < min(cursor.end, TOTAL)) {
            predictions[sample] = best_class;
            predictions[TOTAL + sample] = bitcast<u32>(1.0 / sum_exp);
        }
//#endif
//#if ROW_LOSS
        row_loss[r] = 0.0;
//#endif
        if (label < CLASSES) {
            let loss = lse - (1.0 - SMOOTHING) * logits[base + label] - SMOOTHING * sum_x / f32(CLASSES);
//#if ROW_LOSS
            row_loss[r] = loss;
//#endif
            // A NaN/Inf loss is counted, not summed, so one bad row is reported instead of hidden.
            let finite = loss == loss && abs(loss) < 3.0e38;
            total = total + vec4<f32>(select(0.0, loss, finite), select(0.0, 1.0, best_class == label), 1.0, select(1.0, 0.0, finite));
        }
    }
    lanes[lane] = total;
    workgroupBarrier();
    for (var width = 128u; width > 0u; width = width / 2u) {
        if (lane < width) {
            lanes[lane] = lanes[lane] + lanes[lane + width];
        }
        workgroupBarrier();
    }
    if (lane == 0u) {
        let t = lanes[0];
        stats[0] = t.x / max(t.z, 1.0);
        stats[1] = t.y;
        stats[2] = t.z;
        stats[3] = t.w;
    }
}
//#else
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> row_lse: array<f32>;
@group(0) @binding(4) var<storage, read> dloss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= ROWS * CLASSES) { return; }
    let r = i / CLASSES;
    let c = i % CLASSES;
    let label = labels[r];
    if (label >= CLASSES) {
        dlogits[i] = 0.0;
        return;
    }
    let p = exp(logits[i] - row_lse[r]);
    let wanted = select(0.0, 1.0 - SMOOTHING, c == label) + SMOOTHING / f32(CLASSES);
    dlogits[i] = dloss[0] * (p - wanted) / max(stats[2], 1.0);
}
//#endif
