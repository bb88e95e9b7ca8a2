use super::matmul::{batched_matmul_into, Batch, MatmulLayout};
use crate::autograd::{Graph, TensorId};
use crate::gpu::{grid_1d, BufView, Kernel};

/// Elements of the column scratch one chunk of samples may use (16 MiB of f32); a batch whose
/// columns need more is processed in chunks of samples so memory stays bounded.
const COLUMN_BUDGET: usize = 4 << 20;

/// Geometry of one 2-D convolution (PyTorch layouts: x [N, C, H, W], filters [CO, C, KH, KW]).
#[derive(Clone, Copy, Debug)]
struct ConvShape {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    co: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: usize,
    oh: usize,
    ow: usize,
}

impl ConvShape {
    /// Rows of the column matrix of one sample (C·KH·KW) …
    fn r(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// … and its columns (output pixels).
    fn p(&self) -> usize {
        self.oh * self.ow
    }

    /// Samples per chunk: as many as fit in the column budget (at least one).
    fn chunk(&self) -> usize {
        (COLUMN_BUDGET / (self.r() * self.p()).max(1)).clamp(1, self.n)
    }

    /// (first sample, samples) of each chunk.
    fn chunks(&self) -> Vec<(usize, usize)> {
        let chunk = self.chunk();
        (0..self.n)
            .step_by(chunk)
            .map(|n0| (n0, chunk.min(self.n - n0)))
            .collect()
    }

    fn kernel(&self, variant: &'static str, n0: usize, len: usize) -> Kernel {
        Kernel::new("conv")
            .define(variant)
            .constant("C", self.c as u32)
            .constant("H", self.h as u32)
            .constant("W", self.w as u32)
            .constant("KH", self.kh as u32)
            .constant("KW", self.kw as u32)
            .constant("STRIDE", self.stride as u32)
            .constant("PAD", self.pad as u32)
            .constant("OH", self.oh as u32)
            .constant("OW", self.ow as u32)
            .constant("N0", n0 as u32)
            .constant("LEN", len as u32)
    }

    /// Records im2col of samples n0..n0+count into `cols`.
    fn im2col(&self, g: &mut Graph, x: &BufView, cols: &BufView, n0: usize, count: usize) {
        let len = count * self.r() * self.p();
        g.launch(&self.kernel("IM2COL", n0, len), &[x, cols], grid_1d(len));
    }
}

/// Output size of a convolution or pooling window along one axis (floor mode), or None when the
/// window does not fit.
pub fn window_output(input: usize, kernel: usize, stride: usize, pad: usize) -> Option<usize> {
    let padded = input + 2 * pad;
    (stride > 0 && kernel > 0 && padded >= kernel).then(|| (padded - kernel) / stride + 1)
}

/// 2-D convolution with zero padding `pad` on every side and the same `stride` along both axes,
/// as PyTorch's `F.conv2d`; `bias` [CO] is optional.
///
/// Computed as per-sample matrix products over an im2col column tensor kept in a scratch shared by
/// every layer (`Gpu::workspace`): forward y[n] = W · cols[n]. Backward: the filter gradient is a
/// batched product dy[n] · cols[n]ᵀ (parallel over filter elements *and* each sample's pixels)
/// followed by a sum over the samples; the input gradient is Wᵀ · dy[n] scattered back by col2im
/// (a gather, parallel over input elements). The columns are recomputed in the backward instead
/// of being kept, so memory does not grow with depth.
pub fn conv2d(
    g: &mut Graph,
    x: TensorId,
    weight: TensorId,
    bias: Option<TensorId>,
    stride: usize,
    pad: usize,
) -> TensorId {
    let (xs, ws) = (g.shape(x).to_vec(), g.shape(weight).to_vec());
    assert!(
        xs.len() == 4 && ws.len() == 4 && xs[1] == ws[1],
        "conv2d expects x [N,C,H,W] and weight [CO,C,KH,KW], got {xs:?} and {ws:?}"
    ); // ok: graph-construction bug (models check their input shapes)
    let (oh, ow) = (
        window_output(xs[2], ws[2], stride, pad),
        window_output(xs[3], ws[3], stride, pad),
    );
    let (Some(oh), Some(ow)) = (oh, ow) else {
        panic!("conv2d window {ws:?} does not fit input {xs:?} with padding {pad}");
        // ok: models check sizes
    };
    let s = ConvShape {
        n: xs[0],
        c: xs[1],
        h: xs[2],
        w: xs[3],
        co: ws[0],
        kh: ws[2],
        kw: ws[3],
        stride,
        pad,
        oh,
        ow,
    };
    let (r, p) = (s.r(), s.p());
    let mut inputs = vec![x, weight];
    inputs.extend(bias);
    let y = g.output(&[s.n, s.co, oh, ow], &inputs);
    let (xv, wv, yv) = (g.data(x).clone(), g.data(weight).clone(), g.data(y).clone());
    // Without a bias the product goes straight into y; with one, into scratch and then y = z + b.
    let z = match bias {
        Some(_) => g.alloc(yv.len),
        None => yv.clone(),
    };
    for (n0, count) in s.chunks() {
        let cols = g.gpu.workspace(0, count * r * p);
        s.im2col(g, &xv, &cols, n0, count);
        let batch = Batch {
            count,
            base: [0, 0, n0 * s.co * p],
            stride: [0, r * p, s.co * p],
        };
        batched_matmul_into(g, &wv, &cols, &z, [s.co, p, r], MatmulLayout::NN, batch);
    }
    if let Some(b) = bias {
        let bv = g.data(b).clone();
        g.launch(
            &channel_kernel("BIAS", s.n, s.co, p),
            &[&z, &bv, &yv],
            grid_1d(yv.len),
        );
    }
    g.record(y, move |g, dy| {
        let dy = dy.clone();
        if let Some(b) = bias {
            g.contribute_grad(b, |g, db| {
                g.launch(
                    &channel_kernel("CHANNEL_SUM", s.n, s.co, p),
                    &[&dy, db],
                    [s.co as u32, 1, 1],
                )
            });
        }
        g.contribute_grad(weight, |g, dw| {
            for (i, (n0, count)) in s.chunks().into_iter().enumerate() {
                let cols = g.gpu.workspace(0, count * r * p);
                let partials = g.gpu.workspace(1, count * s.co * r);
                s.im2col(g, &xv, &cols, n0, count);
                // partials[n] = dy[n] [CO, P] · cols[n]ᵀ (cols[n] stored [R, P]).
                let batch = Batch {
                    count,
                    base: [n0 * s.co * p, 0, 0],
                    stride: [s.co * p, r * p, s.co * r],
                };
                batched_matmul_into(
                    g,
                    &dy,
                    &cols,
                    &partials,
                    [s.co, r, p],
                    MatmulLayout::NT,
                    batch,
                );
                let sum = s
                    .kernel("SUM_BATCH", 0, s.co * r)
                    .constant("COUNT", count as u32)
                    .define_if(i > 0, "ACCUMULATE");
                g.launch(&sum, &[&partials, dw], grid_1d(s.co * r));
            }
        });
        g.contribute_grad(x, |g, dx| {
            for (n0, count) in s.chunks() {
                let dcols = g.gpu.workspace(0, count * r * p);
                // dcols[n] = Wᵀ · dy[n]: W stored [CO, R] is read transposed.
                let batch = Batch {
                    count,
                    base: [0, n0 * s.co * p, 0],
                    stride: [0, s.co * p, r * p],
                };
                batched_matmul_into(g, &wv, &dy, &dcols, [r, p, s.co], MatmulLayout::TN, batch);
                let len = count * s.c * s.h * s.w;
                g.launch(&s.kernel("COL2IM", n0, len), &[&dcols, dx], grid_1d(len));
            }
        });
    });
    y
}

/// A per-channel kernel of shaders/channel.wgsl over activations [n, c, spatial].
pub(crate) fn channel_kernel(variant: &'static str, n: usize, c: usize, spatial: usize) -> Kernel {
    Kernel::new("channel")
        .define(variant)
        .constant("N", n as u32)
        .constant("C", c as u32)
        .constant("S", spatial as u32)
}
