use crate::autograd::{Graph, TensorId};
use crate::gpu::{grid_1d, Kernel};

/// y[r, c] = x[r, c] + b[c]; dx = dy, db[c] = Σ_r dy[r, c] (deterministic column sums).
pub fn bias_add(g: &mut Graph, x: TensorId, b: TensorId) -> TensorId {
    let shape = g.shape(x).to_vec();
    assert_eq!(shape.len(), 2, "bias_add expects a [rows, cols] input"); // ok: graph-construction bug
    let (rows, cols) = (shape[0], shape[1]);
    assert_eq!(
        g.shape(b),
        [cols],
        "bias length must equal the number of columns"
    ); // ok: graph-construction bug
    let y = g.output(&shape, &[x, b]);
    let (xv, bv, yv) = (g.data(x).clone(), g.data(b).clone(), g.data(y).clone());
    let kernel = move |k: Kernel| {
        k.constant("ROWS", rows as u32)
            .constant("COLS", cols as u32)
    };
    g.launch(
        &kernel(Kernel::new("bias").define("FORWARD")),
        &[&xv, &bv, &yv],
        grid_1d(rows * cols),
    );
    g.record(y, move |g, dy| {
        let dy = dy.clone();
        g.contribute_grad(x, |g, dx| {
            g.launch(
                &Kernel::new("scale").constant("LEN", dx.len as u32),
                &[&dy, dx],
                grid_1d(dx.len),
            )
        });
        g.contribute_grad(b, |g, db| {
            g.launch(&kernel(Kernel::new("bias")), &[&dy, db], grid_1d(cols))
        });
    });
    y
}
