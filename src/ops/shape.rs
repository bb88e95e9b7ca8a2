use crate::autograd::{Graph, TensorId};
use crate::gpu::{grid_1d, Kernel};

/// The same elements under a new shape (e.g. flatten [N, C, H, W] → [N, C·H·W]). The forward
/// shares the input's buffer; the backward copies the gradient (the tape keeps one gradient
/// buffer per tensor).
pub fn reshape(g: &mut Graph, x: TensorId, shape: &[usize]) -> TensorId {
    let data = g.data(x).clone();
    assert_eq!(
        data.len,
        shape.iter().product::<usize>(),
        "reshape to {shape:?} changes the element count of {:?}",
        g.shape(x)
    ); // ok: graph-construction bug
    let y = g.output_in(data, shape, &[x]);
    g.record(y, move |g, dy| {
        let dy = dy.clone();
        g.contribute_grad(x, |g, dx| {
            let copy = Kernel::new("scale").constant("LEN", dx.len as u32);
            g.launch(&copy, &[&dy, dx], grid_1d(dx.len));
        });
    });
    y
}

/// [N, d1, d2, …] → [N, d1·d2·…].
pub fn flatten(g: &mut Graph, x: TensorId) -> TensorId {
    let shape = g.shape(x).to_vec();
    let rest: usize = shape[1..].iter().product();
    reshape(g, x, &[shape[0], rest])
}
