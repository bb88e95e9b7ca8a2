use crate::autograd::{Graph, TensorId};
use crate::gpu::{grid_1d, BufView, Kernel};

/// Inverted dropout with drop probability `p`: y = x·mask/(1 − p). The mask is a hash of the run
/// seed and step number in `step` (a uniform `{seed, step, 0, 0}` the trainer writes each step),
/// `layer` and the element index, recomputed in the backward, so nothing is stored and every pass
/// of one step (SAM's perturbed passes included) uses the same mask.
pub fn dropout(g: &mut Graph, x: TensorId, p: f32, layer: u32, step: &BufView) -> TensorId {
    let shape = g.shape(x).to_vec();
    let y = g.output(&shape, &[x]);
    let (xv, yv) = (g.data(x).clone(), g.data(y).clone());
    let kernel = move |len: usize| {
        Kernel::new("dropout")
            .constant("LEN", len as u32)
            .constant("P", p)
            .constant("LAYER", layer)
    };
    g.launch(&kernel(yv.len), &[&xv, &yv, step], grid_1d(yv.len));
    let step = step.clone();
    g.record(y, move |g, dy| {
        let dy = dy.clone();
        g.contribute_grad(x, |g, dx| {
            g.launch(&kernel(dx.len), &[&dy, dx, &step], grid_1d(dx.len))
        });
    });
    y
}
