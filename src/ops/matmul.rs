use crate::autograd::{Graph, TensorId};
use crate::gpu::{BufView, Kernel};

/// How the operands of C[M,N] = op(A)·op(B) are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulLayout {
    /// A [M,K], B [K,N].
    NN,
    /// A [M,K], B stored [N,K] (x · Wᵀ for a PyTorch Linear weight).
    NT,
    /// A stored [K,M], B [K,N] (the weight gradient dyᵀ · x).
    TN,
}

/// Invocations per workgroup side; each computes a 4×4 tile of C.
const WG: u32 = 8;

/// C = op(A) · op(B). Backward (for C = A·B with dC):
///   NN: dA = dC · Bᵀ (NT), dB = Aᵀ · dC (TN)
///   NT: dA = dC · B (NN),  dB = dCᵀ · A (TN, giving [N,K])
///   TN: dA = B · dCᵀ (NT, giving [K,M]), dB = A · dC (NN)
pub fn matmul(g: &mut Graph, a: TensorId, b: TensorId, layout: MatmulLayout) -> TensorId {
    let (sa, sb) = (g.shape(a).to_vec(), g.shape(b).to_vec());
    assert!(
        sa.len() == 2 && sb.len() == 2,
        "matmul expects 2-D operands"
    ); // ok: graph-construction bug
    let (m, k, k2, n) = match layout {
        MatmulLayout::NN => (sa[0], sa[1], sb[0], sb[1]),
        MatmulLayout::NT => (sa[0], sa[1], sb[1], sb[0]),
        MatmulLayout::TN => (sa[1], sa[0], sb[0], sb[1]),
    };
    assert_eq!(
        k, k2,
        "matmul inner dimensions differ: {sa:?} x {sb:?} ({layout:?})"
    ); // ok: graph-construction bug
    let c = g.output(&[m, n], &[a, b]);
    let (av, bv, cv) = (g.data(a).clone(), g.data(b).clone(), g.data(c).clone());
    matmul_into(g, &av, &bv, &cv, m, n, k, layout);
    g.record(c, move |g, dc| {
        let dc = dc.clone();
        match layout {
            MatmulLayout::NN => {
                g.contribute_grad(a, |g, da| {
                    matmul_into(g, &dc, &bv, da, m, k, n, MatmulLayout::NT)
                });
                g.contribute_grad(b, |g, db| {
                    matmul_into(g, &av, &dc, db, k, n, m, MatmulLayout::TN)
                });
            }
            MatmulLayout::NT => {
                g.contribute_grad(a, |g, da| {
                    matmul_into(g, &dc, &bv, da, m, k, n, MatmulLayout::NN)
                });
                g.contribute_grad(b, |g, db| {
                    matmul_into(g, &dc, &av, db, n, k, m, MatmulLayout::TN)
                });
            }
            MatmulLayout::TN => {
                g.contribute_grad(a, |g, da| {
                    matmul_into(g, &bv, &dc, da, k, m, n, MatmulLayout::NT)
                });
                g.contribute_grad(b, |g, db| {
                    matmul_into(g, &av, &dc, db, k, n, m, MatmulLayout::NN)
                });
            }
        }
    });
    c
}

/// Records C[M,N] = op(A)·op(B) into `c` (no tape entry). vec4 loads are chosen per operand when
/// its contiguous dimension is a multiple of 4.
#[allow(clippy::too_many_arguments)]
pub fn matmul_into(
    g: &mut Graph,
    a: &BufView,
    b: &BufView,
    c: &BufView,
    m: usize,
    n: usize,
    k: usize,
    layout: MatmulLayout,
) {
    batched_matmul_into(g, a, b, c, [m, n, k], layout, Batch::ONE);
}

/// How many products one batched launch computes, where the first operands start and how far apart
/// (in elements) consecutive ones sit; a stride of 0 shares that operand across the batch.
#[derive(Clone, Copy, Debug, Default)]
pub struct Batch {
    pub count: usize,
    pub base: [usize; 3],
    pub stride: [usize; 3],
}

impl Batch {
    pub const ONE: Batch = Batch {
        count: 1,
        base: [0; 3],
        stride: [0; 3],
    };
}

/// `count` products C_i = op(A_i)·op(B_i) of the same shape `[m, n, k]` in one launch (workgroup z
/// is i). Convolutions use it per sample with the filter bank shared.
pub fn batched_matmul_into(
    g: &mut Graph,
    a: &BufView,
    b: &BufView,
    c: &BufView,
    [m, n, k]: [usize; 3],
    layout: MatmulLayout,
    batch: Batch,
) {
    let trans_a = layout == MatmulLayout::TN;
    let trans_b = layout == MatmulLayout::NT;
    let a_contiguous = if trans_a { m } else { k };
    let b_contiguous = if trans_b { k } else { n };
    let vec4 = |contiguous: usize, i: usize| {
        contiguous.is_multiple_of(4)
            && batch.base[i].is_multiple_of(4)
            && batch.stride[i].is_multiple_of(4)
    };
    let kernel = Kernel::new("matmul")
        .define_if(trans_a, "TRANS_A")
        .define_if(trans_b, "TRANS_B")
        .define_if(vec4(a_contiguous, 0), "A_VEC4")
        .define_if(vec4(b_contiguous, 1), "B_VEC4")
        .define_if(vec4(n, 2), "C_VEC4")
        .constant("M", m as u32)
        .constant("N", n as u32)
        .constant("K", k as u32)
        .constant("WG_X", WG)
        .constant("WG_Y", WG)
        .constant("STRIDE_A", batch.stride[0] as u32)
        .constant("STRIDE_B", batch.stride[1] as u32)
        .constant("STRIDE_C", batch.stride[2] as u32)
        .constant("BASE_A", batch.base[0] as u32)
        .constant("BASE_B", batch.base[1] as u32)
        .constant("BASE_C", batch.base[2] as u32);
    let tiles_n = n.div_ceil(4) as u32;
    let tiles_m = m.div_ceil(4) as u32;
    g.launch(
        &kernel,
        &[a, b, c],
        [
            tiles_n.div_ceil(WG),
            tiles_m.div_ceil(WG),
            batch.count as u32,
        ],
    );
}
