use crate::autograd::{Graph, TensorId};
use crate::gpu::{grid_1d, BufView, Kernel};

/// Elements per workgroup in the first reduction level.
const CHUNK: usize = 4096;

/// Σ of all elements → shape [1]; dx = dy broadcast.
pub fn sum(g: &mut Graph, x: TensorId) -> TensorId {
    reduce_all(g, x, 1.0)
}

/// Mean of all elements → shape [1]; dx = dy / n broadcast.
pub fn mean(g: &mut Graph, x: TensorId) -> TensorId {
    let n = g.data(x).len;
    reduce_all(g, x, 1.0 / n as f32)
}

fn reduce_all(g: &mut Graph, x: TensorId, s: f32) -> TensorId {
    let out = g.output(&[1], &[x]);
    let (xv, ov) = (g.data(x).clone(), g.data(out).clone());
    deterministic_sum(g, &xv, &ov, s);
    g.record(out, move |g, dy| {
        let dy = dy.clone();
        g.contribute_grad(x, |g, dx| {
            let kernel = Kernel::new("scale")
                .define("BROADCAST")
                .constant("LEN", dx.len as u32)
                .constant("S", s);
            g.launch(&kernel, &[&dy, dx], grid_1d(dx.len));
        });
    });
    out
}

/// out[0] = s · Σ x, in two fixed-order levels (partials per CHUNK, then one workgroup).
fn deterministic_sum(g: &mut Graph, x: &BufView, out: &BufView, s: f32) {
    let groups = x.len.div_ceil(CHUNK).max(1);
    let partials = g.alloc(groups);
    let partial = Kernel::new("reduce")
        .define("PARTIAL")
        .constant("LEN", x.len as u32)
        .constant("CHUNK", CHUNK as u32);
    g.launch(&partial, &[x, &partials], [groups as u32, 1, 1]);
    let total = Kernel::new("reduce")
        .constant("LEN", groups as u32)
        .constant("S", s);
    g.launch(&total, &[&partials, out], [1, 1, 1]);
}
