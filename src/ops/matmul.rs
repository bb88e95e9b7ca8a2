use crate::autograd::{Graph, TensorId};
use crate::gpu::{BufView, Gpu, Kernel};

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

/// Invocations per workgroup side without subgroups.
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

/// How the matmul kernel (shaders/matmul.wgsl) is specialised for one product: the register tile
/// (rows × columns of C each invocation computes: 4, 8, 16 or 32 rows, 4, 8 or 16 columns) and
/// whether the invocations of a subgroup share the loads of A's rows (`subgroup`: its fixed size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulTiling {
    pub rows: usize,
    pub cols: usize,
    pub subgroup: Option<u32>,
}

impl MatmulTiling {
    /// The tiling used for C[M,N] on `gpu`. With subgroups of a fixed size S of 4 or 8 (the CPU
    /// adapters), A's rows are shared: per invocation and k-step TM/S + TN vec4 loads for 4·TM·TN
    /// multiply-adds (4×4 without sharing: 8 loads for 64). TM = 16 × TN = 8 on lavapipe (S = 8)
    /// up to 512 rows, 32 × 8 beyond (fewer passes over a B that no longer fits the cache) and on
    /// SwiftShader (S = 4: a subgroup shares less, so the tile must be taller). Without subgroups
    /// (SwiftShader through wgpu's WebGPU backend, real GPUs: untuned) 16 × 16, 32 loads for 1,024
    /// multiply-adds. Narrower tiles only where C itself is that small. Measured in
    /// docs/benchmarks.md.
    pub fn choose(gpu: &Gpu, m: usize, n: usize) -> Self {
        let subgroup = gpu.fixed_subgroup_size;
        // Without subgroups: the largest of 4, 8, 16 that C's side reaches.
        let side = |len: usize| match len {
            16.. => 16,
            8.. => 8,
            _ => 4,
        };
        match subgroup {
            Some(s) => MatmulTiling {
                rows: match m {
                    17.. if s == 4 || m >= 512 => 32,
                    9.. => 16,
                    _ => 8,
                },
                cols: if n >= 8 { 8 } else { 4 },
                subgroup,
            },
            None => MatmulTiling {
                rows: side(m),
                cols: side(n),
                subgroup: None,
            },
        }
    }

    /// Workgroup shape (x, y) and count (x, y) for C[M,N]. With subgroups, x is the subgroup size
    /// (a subgroup is one row of the workgroup) and y at most as many tile rows as C has.
    fn workgroups(&self, m: usize, n: usize) -> ([u32; 2], [u32; 2]) {
        let tiles_n = n.div_ceil(self.cols) as u32;
        let tiles_m = m.div_ceil(self.rows) as u32;
        // (Without subgroups, 4×4-invocation workgroups for the 16×16 tile, to make more
        // workgroups of the MLP's products, halved lavapipe's rate: 8×8 stays.)
        let size = match self.subgroup {
            Some(s) => [s, (64 / s).min(tiles_m)],
            None => [WG, WG],
        };
        (size, [tiles_n.div_ceil(size[0]), tiles_m.div_ceil(size[1])])
    }
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
    let tiling = MatmulTiling::choose(&g.gpu, m, n);
    tiled_matmul_into(g, a, b, c, [m, n, k], layout, batch, tiling);
}

/// `batched_matmul_into` with the tiling given (benchmarks compare tilings with it). Panics when
/// the tiling is not one the kernel has (a caller bug).
#[allow(clippy::too_many_arguments)]
pub fn tiled_matmul_into(
    g: &mut Graph,
    a: &BufView,
    b: &BufView,
    c: &BufView,
    [m, n, k]: [usize; 3],
    layout: MatmulLayout,
    batch: Batch,
    tiling: MatmulTiling,
) {
    let MatmulTiling {
        rows,
        cols,
        subgroup,
    } = tiling;
    assert!(
        matches!(rows, 4 | 8 | 16 | 32)
            && matches!(cols, 4 | 8 | 16)
            && subgroup.is_none_or(|s| matches!(s, 4 | 8) && rows as u32 >= s),
        "no matmul kernel for {tiling:?}"
    ); // ok: caller bug
    let trans_a = layout == MatmulLayout::TN;
    let trans_b = layout == MatmulLayout::NT;
    let a_contiguous = if trans_a { m } else { k };
    let b_contiguous = if trans_b { k } else { n };
    let vec4 = |contiguous: usize, i: usize| {
        contiguous.is_multiple_of(4)
            && batch.base[i].is_multiple_of(4)
            && batch.stride[i].is_multiple_of(4)
    };
    let ([wg_x, wg_y], [groups_x, groups_y]) = tiling.workgroups(m, n);
    let kernel = Kernel::new("matmul")
        .define_if(rows == 8, "ROWS8")
        .define_if(rows == 16, "ROWS16")
        .define_if(rows == 32, "ROWS32")
        .define_if(cols == 8, "COLS8")
        .define_if(cols == 16, "COLS16")
        .define_if(subgroup.is_some(), "SUBGROUP")
        .define_if(subgroup == Some(4), "SG4")
        // Browsers require `enable subgroups;`, which Naga (native) does not parse yet.
        .define_if(
            subgroup.is_some() && cfg!(target_arch = "wasm32"),
            "ENABLE_SUBGROUPS",
        )
        .define_if(trans_a, "TRANS_A")
        .define_if(trans_b, "TRANS_B")
        .define_if(vec4(a_contiguous, 0), "A_VEC4")
        .define_if(vec4(b_contiguous, 1), "B_VEC4")
        .define_if(vec4(n, 2), "C_VEC4")
        .constant("M", m as u32)
        .constant("N", n as u32)
        .constant("K", k as u32)
        .constant("WG_X", wg_x)
        .constant("WG_Y", wg_y)
        .constant("STRIDE_A", batch.stride[0] as u32)
        .constant("STRIDE_B", batch.stride[1] as u32)
        .constant("STRIDE_C", batch.stride[2] as u32)
        .constant("BASE_A", batch.base[0] as u32)
        .constant("BASE_B", batch.base[1] as u32)
        .constant("BASE_C", batch.base[2] as u32);
    g.launch(
        &kernel,
        &[a, b, c],
        [groups_x, groups_y, batch.count as u32],
    );
}
