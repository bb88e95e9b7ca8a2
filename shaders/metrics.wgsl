// Accumulates one training step's numbers into the metrics buffer on the GPU, so the host reads
// them every N steps instead of stalling each step. One invocation, fixed order: deterministic.
// stats1/stats2: [mean loss, correct, valid rows, non-finite rows] of the first (at w) and second
// (at w + ε) pass; scalars[0] = (‖T⊙d‖², ‖d‖², ·, ·) of the last reduced direction (‖g0‖² when
// d = g0), scalars[1] = (⟨g0, g1⟩, ‖g1‖², ‖g0‖², ·). SAM steps read ‖g0‖ from slot 1.
//
// acc layout (f32): 0 Σ loss·rows, 1 Σ correct, 2 Σ rows, 3 steps, 4 Σ sharpness L(w+ε)−L(w),
// 5 Σ ‖g0‖, 6 Σ cos(g0, g1), 7 last loss, 8 last sharpness, 9 last ‖g0‖, 10 last cos,
// 11 steps with a non-finite loss or gradient norm, 12 Σ L(w+ε), 13 steps with a SAM read-out
// (LookSAM reads out on refresh steps only).

//
// EVAL: acc = (Σ loss·rows, Σ correct, Σ rows, non-finite rows) over evaluation batches.

// STATS_ADD: m-sharpness sums its sub-batches' statistics: acc = (Σ loss·rows, Σ correct, Σ rows,
// Σ non-finite) (FIRST overwrites instead of adding); STATS_FINISH turns acc[0] into the mean loss.

//#if STATS_ADD
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> total: array<f32>;

@compute @workgroup_size(1)
fn main() {
    let v = vec4<f32>(part[0] * part[2], part[1], part[2], part[3]);
//#if FIRST
    let t = v;
//#else
    let t = vec4<f32>(total[0], total[1], total[2], total[3]) + v;
//#endif
    total[0] = t.x;
    total[1] = t.y;
    total[2] = t.z;
    total[3] = t.w;
//#if STATS_FINISH
    total[0] = t.x / max(t.z, 1.0);
//#endif
}
//#else
//#if EVAL
@group(0) @binding(0) var<storage, read> stats1: array<f32>;
@group(0) @binding(1) var<storage, read_write> acc: array<f32>;

@compute @workgroup_size(1)
fn main() {
    acc[0] = acc[0] + stats1[0] * stats1[2];
    acc[1] = acc[1] + stats1[1];
    acc[2] = acc[2] + stats1[2];
    acc[3] = acc[3] + stats1[3];
}
//#else
@group(0) @binding(0) var<storage, read> stats1: array<f32>;
@group(0) @binding(1) var<storage, read> scalars: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;
//#if SAM
@group(0) @binding(3) var<storage, read> stats2: array<f32>;
//#endif

fn is_finite(x: f32) -> bool {
    return x == x && abs(x) < 3.0e38;
}

@compute @workgroup_size(1)
fn main() {
    let loss = stats1[0];
    let rows = stats1[2];
//#if SAM
    let grad_norm = sqrt(scalars[1].z);
//#else
    let grad_norm = sqrt(scalars[0].y);
//#endif
    acc[0] = acc[0] + loss * rows;
    acc[1] = acc[1] + stats1[1];
    acc[2] = acc[2] + rows;
    acc[3] = acc[3] + 1.0;
    acc[5] = acc[5] + grad_norm;
    acc[7] = loss;
    acc[9] = grad_norm;
    var bad = stats1[3] > 0.0 || !is_finite(loss) || !is_finite(grad_norm);
//#if SAM
    let sharpness = stats2[0] - loss;
    let dot = scalars[1].x;
    let g1_norm = sqrt(scalars[1].y);
    let cos = dot / max(grad_norm * g1_norm, 1e-30);
    acc[4] = acc[4] + sharpness;
    acc[6] = acc[6] + cos;
    acc[8] = sharpness;
    acc[10] = cos;
    acc[12] = acc[12] + stats2[0];
    acc[13] = acc[13] + 1.0;
    bad = bad || stats2[3] > 0.0 || !is_finite(stats2[0]) || !is_finite(g1_norm);
//#endif
    if (bad) {
        acc[11] = acc[11] + 1.0;
    }
}
//#endif
//#endif
