// Two-dimensional loss surfaces for the "SAM in two dimensions" view (src/surface/). The two
// parameters live in a flat parameter buffer of 2 elements, exactly as a network's weights do, so
// the training's own SAM and optimizer kernels step on them; these kernels stand in for the
// network's forward/backward pass and write L(w) and ∇L(w) where a pass would.
//
// One define picks the surface (each formula with its gradient, side by side):
// SHARP_FLAT  L = −log(exp(−|w−a|²/(2σa²)) + ½·exp(−|w−b|²/(2σb²))), a = (−0.6, 0), σa = 0.2
//             (a narrow, deeper valley) and b = (0.6, 0), σb = 0.8 (a wide, shallower one). The
//             gradient is the responsibilities' mix of the two Gaussians' pulls; log-sum-exp keeps
//             it finite far from both.
// ROSENBROCK  L = (1 − x)² + 100·(y − x²)², the curved narrow valley, minimum at (1, 1).
// SADDLE      L = x² − y²/2 + y⁴/4: a saddle at the origin between two minima at (0, ±1).
// QUADRATIC   L = (x² + CONDITION·y²)/2: a bowl whose Hessian has condition number CONDITION.
//
// Variants:
// PASS    (the gradient pass) L and ∇L at w; ∇L into `grad`, and (w, L, ∇L) into the trace row
//         that `u.row` names, at RECORD_SLOT (0: the pass at w, 5: the pass at w + ε).
// RECORD  after the optimizer update: the gradient G the update used and the new w, into the
//         same row (slots 10–13).
// GRID    the loss on a GRID_N × GRID_N grid over [X0, X1] × [Y0, Y1] (row-major, x fastest), for
//         the view's heatmap: the picture shows the very function the steps descend.

override CONDITION: f32 = 10.0;
override RECORD_SLOT: u32 = 0u;
override GRID_N: u32 = 2u;
override X0: f32 = -2.0;
override X1: f32 = 2.0;
override Y0: f32 = -2.0;
override Y1: f32 = 2.0;

// Floats per trace row: w (2), L(w), ∇L(w) (2), w + ε (2), L(w + ε), ∇L(w + ε) (2), G (2), next w (2).
const ROW_LEN: u32 = 14u;

struct TraceUniforms {
    row: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

//#if PASS
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> trace: array<f32>;
@group(0) @binding(3) var<uniform> u: TraceUniforms;
//#endif
//#if RECORD
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read> update: array<f32>;
@group(0) @binding(2) var<storage, read_write> trace: array<f32>;
@group(0) @binding(3) var<uniform> u: TraceUniforms;
//#endif
//#if GRID
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
//#endif

// (L, ∂L/∂x, ∂L/∂y) at p.
fn surface(p: vec2<f32>) -> vec3<f32> {
//#if SHARP_FLAT
    let da = p - vec2<f32>(-0.6, 0.0);
    let db = p - vec2<f32>(0.6, 0.0);
    let sa2 = 0.2 * 0.2;
    let sb2 = 0.8 * 0.8;
    let ea = -dot(da, da) / (2.0 * sa2);
    let eb = log(0.5) - dot(db, db) / (2.0 * sb2);
    let top = max(ea, eb);
    let lse = top + log(exp(ea - top) + exp(eb - top));
    let ra = exp(ea - lse);
    let rb = exp(eb - lse);
    return vec3<f32>(-lse, ra * da / sa2 + rb * db / sb2);
//#endif
//#if ROSENBROCK
    let a = 1.0 - p.x;
    let b = p.y - p.x * p.x;
    return vec3<f32>(a * a + 100.0 * b * b, -2.0 * a - 400.0 * p.x * b, 200.0 * b);
//#endif
//#if SADDLE
    let y2 = p.y * p.y;
    return vec3<f32>(p.x * p.x - 0.5 * y2 + 0.25 * y2 * y2, 2.0 * p.x, p.y * (y2 - 1.0));
//#endif
//#if QUADRATIC
    return vec3<f32>(0.5 * (p.x * p.x + CONDITION * p.y * p.y), p.x, CONDITION * p.y);
//#endif
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
//#if PASS
    if (id.x > 0u) { return; }
    let p = vec2<f32>(w[0], w[1]);
    let v = surface(p);
    grad[0] = v.y;
    grad[1] = v.z;
    let at = u.row * ROW_LEN + RECORD_SLOT;
    trace[at] = p.x;
    trace[at + 1u] = p.y;
    trace[at + 2u] = v.x;
    trace[at + 3u] = v.y;
    trace[at + 4u] = v.z;
//#endif
//#if RECORD
    if (id.x > 0u) { return; }
    let at = u.row * ROW_LEN + 10u;
    trace[at] = update[0];
    trace[at + 1u] = update[1];
    trace[at + 2u] = w[0];
    trace[at + 3u] = w[1];
//#endif
//#if GRID
    let i = id.x;
    if (i >= GRID_N * GRID_N) { return; }
    let step = vec2<f32>(X1 - X0, Y1 - Y0) / f32(GRID_N - 1u);
    let p = vec2<f32>(X0, Y0) + vec2<f32>(f32(i % GRID_N), f32(i / GRID_N)) * step;
    out[i] = surface(p).x;
//#endif
}
