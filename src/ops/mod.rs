//! Ops: each file holds one op family's forward, its backward (recorded on the tape right next to
//! the forward) and the launches of its WGSL kernels in `shaders/`.

mod bias;
mod cross_entropy;
mod elementwise;
mod matmul;
mod reduce;

pub use bias::bias_add;
pub use cross_entropy::{cross_entropy, CrossEntropy};
pub use elementwise::{add, add_inplace, fill, mul, relu, scale};
pub use matmul::{matmul, matmul_into, MatmulLayout};
pub use reduce::{mean, sum};

use crate::autograd::Graph;
use crate::gpu::{grid_1d, BufView, Kernel};

/// Launches a 1-D elementwise kernel with `LEN` = `len` over `bindings`.
fn launch_1d(g: &mut Graph, kernel: Kernel, len: usize, bindings: &[&BufView]) {
    g.launch(&kernel.constant("LEN", len as u32), bindings, grid_1d(len));
}
