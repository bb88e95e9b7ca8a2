use super::conv::window_output;
use crate::autograd::{Graph, TensorId};
use crate::gpu::{grid_1d, Kernel};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PoolKind {
    Max,
    Average,
}

/// Max pooling over `kernel`×`kernel` windows moved by `stride`, no padding, floor mode (PyTorch's
/// `F.max_pool2d(x, kernel, stride)`). The gradient goes to the first maximum of each window.
pub fn max_pool2d(g: &mut Graph, x: TensorId, kernel: usize, stride: usize) -> TensorId {
    pool(g, x, [kernel, kernel], stride, PoolKind::Max)
}

/// Average pooling, as PyTorch's `F.avg_pool2d(x, kernel, stride)` (no padding, floor mode).
pub fn avg_pool2d(g: &mut Graph, x: TensorId, kernel: usize, stride: usize) -> TensorId {
    pool(g, x, [kernel, kernel], stride, PoolKind::Average)
}

/// Mean over each channel's whole plane: [N, C, H, W] → [N, C] (the head of a ResNet).
pub fn global_avg_pool(g: &mut Graph, x: TensorId) -> TensorId {
    let shape = g.shape(x).to_vec();
    assert_eq!(shape.len(), 4, "global_avg_pool expects [N,C,H,W]"); // ok: graph-construction bug
    let pooled = pool(g, x, [shape[2], shape[3]], 1, PoolKind::Average);
    super::reshape(g, pooled, &[shape[0], shape[1]])
}

fn pool(
    g: &mut Graph,
    x: TensorId,
    [kh, kw]: [usize; 2],
    stride: usize,
    kind: PoolKind,
) -> TensorId {
    let shape = g.shape(x).to_vec();
    assert_eq!(shape.len(), 4, "pooling expects [N,C,H,W], got {shape:?}"); // ok: graph-construction bug
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    let (Some(oh), Some(ow)) = (
        window_output(h, kh, stride, 0),
        window_output(w, kw, stride, 0),
    ) else {
        panic!("pooling window {kh}×{kw} does not fit input {shape:?}"); // ok: models check sizes
    };
    let y = g.output(&[n, c, oh, ow], &[x]);
    let (xv, yv) = (g.data(x).clone(), g.data(y).clone());
    let kernel = move |variant: Option<&'static str>, len: usize| {
        let k = Kernel::new("pool")
            .define_if(kind == PoolKind::Max, "MAX")
            .constant("H", h as u32)
            .constant("W", w as u32)
            .constant("KH", kh as u32)
            .constant("KW", kw as u32)
            .constant("STRIDE", stride as u32)
            .constant("OH", oh as u32)
            .constant("OW", ow as u32)
            .constant("LEN", len as u32);
        match variant {
            Some(v) => k.define(v),
            None => k,
        }
    };
    // The winners' positions, written by the forward and read by the backward; the graph may
    // keep them as its pattern, or impose recorded ones (`Pieces::Follow`).
    let slot = (kind == PoolKind::Max)
        .then(|| g.piece_slot(yv.len))
        .flatten();
    let follow = matches!(slot, Some((true, _)));
    let argmax = match slot {
        Some((_, recorded)) => Some(recorded),
        None => (kind == PoolKind::Max).then(|| g.alloc(yv.len)),
    };
    let mut bindings = vec![&xv, &yv];
    bindings.extend(argmax.as_ref());
    let forward = kernel(Some("FORWARD"), yv.len).define_if(follow, "FOLLOW");
    g.launch(&forward, &bindings, grid_1d(yv.len));
    g.record(y, move |g, dy| {
        let dy = dy.clone();
        g.contribute_grad(x, |g, dx| {
            let mut bindings = vec![&dy, dx];
            bindings.extend(argmax.as_ref());
            g.launch(&kernel(None, dx.len), &bindings, grid_1d(dx.len));
        });
    });
    y
}
