use super::launch_1d;
use crate::autograd::{Graph, TensorId};
use crate::gpu::{BufView, Kernel};

/// y = max(x, 0); dx = dy · [x > 0].
pub fn relu(g: &mut Graph, x: TensorId) -> TensorId {
    let shape = g.shape(x).to_vec();
    let y = g.output(&shape, &[x]);
    let (xv, yv) = (g.data(x).clone(), g.data(y).clone());
    // The graph may record which units are on, or follow a recorded choice (`Pieces`).
    let slot = g.piece_slot(xv.len);
    let follow = matches!(slot, Some((true, _)));
    let mut bindings = vec![&xv, &yv];
    bindings.extend(slot.as_ref().map(|(_, mask)| mask));
    let forward = Kernel::new("relu")
        .define("FORWARD")
        .define_if(slot.is_some() && !follow, "RECORD")
        .define_if(follow, "FOLLOW");
    launch_1d(g, forward, xv.len, &bindings);
    let mask = slot.map(|(_, mask)| mask);
    g.record(y, move |g, dy| {
        let dy = dy.clone();
        g.contribute_grad(x, |g, dx| match (&mask, follow) {
            (Some(mask), true) => launch_1d(
                g,
                Kernel::new("relu").define("FOLLOW"),
                xv.len,
                &[mask, &dy, dx],
            ),
            _ => launch_1d(g, Kernel::new("relu"), xv.len, &[&xv, &dy, dx]),
        });
    });
    y
}

/// out = a + b (same shapes); both gradients are dy.
pub fn add(g: &mut Graph, a: TensorId, b: TensorId) -> TensorId {
    let shape = same_shape(g, a, b, "add");
    let out = g.output(&shape, &[a, b]);
    let (av, bv, ov) = (g.data(a).clone(), g.data(b).clone(), g.data(out).clone());
    launch_1d(
        g,
        Kernel::new("binary").define("ADD"),
        ov.len,
        &[&av, &bv, &ov],
    );
    g.record(out, move |g, dy| {
        for input in [a, b] {
            g.contribute_grad(input, |g, dx| copy(g, dy, dx));
        }
    });
    out
}

/// out = a ⊙ b (same shapes); da = dy ⊙ b, db = dy ⊙ a.
pub fn mul(g: &mut Graph, a: TensorId, b: TensorId) -> TensorId {
    let shape = same_shape(g, a, b, "mul");
    let out = g.output(&shape, &[a, b]);
    let (av, bv, ov) = (g.data(a).clone(), g.data(b).clone(), g.data(out).clone());
    launch_1d(
        g,
        Kernel::new("binary").define("MUL"),
        ov.len,
        &[&av, &bv, &ov],
    );
    g.record(out, move |g, dy| {
        let dy = dy.clone();
        g.contribute_grad(a, |g, da| {
            launch_1d(
                g,
                Kernel::new("binary").define("MUL"),
                da.len,
                &[&dy, &bv, da],
            )
        });
        g.contribute_grad(b, |g, db| {
            launch_1d(
                g,
                Kernel::new("binary").define("MUL"),
                db.len,
                &[&dy, &av, db],
            )
        });
    });
    out
}

/// y = s · x; dx = s · dy.
pub fn scale(g: &mut Graph, x: TensorId, s: f32) -> TensorId {
    let shape = g.shape(x).to_vec();
    let y = g.output(&shape, &[x]);
    let (xv, yv) = (g.data(x).clone(), g.data(y).clone());
    launch_1d(
        g,
        Kernel::new("scale").constant("S", s),
        xv.len,
        &[&xv, &yv],
    );
    g.record(y, move |g, dy| {
        let dy = dy.clone();
        g.contribute_grad(x, |g, dx| {
            launch_1d(g, Kernel::new("scale").constant("S", s), dx.len, &[&dy, dx])
        });
    });
    y
}

/// acc += x (no tape entry: used by the tape itself to sum gradient contributions).
pub fn add_inplace(g: &mut Graph, acc: &BufView, x: &BufView) {
    launch_1d(
        g,
        Kernel::new("binary").define("ADD_INPLACE"),
        acc.len,
        &[acc, x],
    );
}

/// Sets every element of `y` to `value` (no tape entry).
pub fn fill(g: &mut Graph, y: &BufView, value: f32) {
    launch_1d(g, Kernel::new("fill").constant("VALUE", value), y.len, &[y]);
}

fn copy(g: &mut Graph, src: &BufView, dst: &BufView) {
    launch_1d(
        g,
        Kernel::new("scale").constant("S", 1.0),
        dst.len,
        &[src, dst],
    );
}

fn same_shape(g: &Graph, a: TensorId, b: TensorId, op: &str) -> Vec<usize> {
    let (sa, sb) = (g.shape(a), g.shape(b));
    assert_eq!(sa, sb, "{op}: operands must have the same shape"); // ok: graph-construction bug
    sa.to_vec()
}
