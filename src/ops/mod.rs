//! Ops: each file holds one op family's forward, its backward (recorded on the tape right next to
//! the forward) and the launches of its WGSL kernels in `shaders/`.

mod batch_norm;
mod bias;
mod conv;
mod cross_entropy;
mod dropout;
mod elementwise;
mod matmul;
mod pool;
mod reduce;
mod shape;

pub use batch_norm::{batch_norm, NormMode, RunningStats, BATCH_NORM_EPS, BATCH_NORM_MOMENTUM};
pub use bias::bias_add;
pub use conv::{conv2d, window_output};
pub use cross_entropy::{
    cross_entropy, cross_entropy_with_predictions, cross_entropy_with_rows, CrossEntropy,
    PredictionSink,
};
pub use dropout::dropout;
pub use elementwise::{add, add_inplace, fill, mul, relu, scale};
pub use matmul::{
    batched_matmul_into, matmul, matmul_into, tiled_matmul_into, Batch, MatmulLayout, MatmulTiling,
};
pub use pool::{avg_pool2d, global_avg_pool, max_pool2d};
pub use reduce::{mean, sum};
pub use shape::{flatten, reshape};

use crate::autograd::Graph;
use crate::gpu::{grid_1d, BufView, Kernel};

/// Launches a 1-D elementwise kernel with `LEN` = `len` over `bindings`.
fn launch_1d(g: &mut Graph, kernel: Kernel, len: usize, bindings: &[&BufView]) {
    g.launch(&kernel.constant("LEN", len as u32), bindings, grid_1d(len));
}
