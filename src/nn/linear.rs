use crate::autograd::{Graph, TensorId};
use crate::ops::{bias_add, matmul, MatmulLayout};

/// y = x · Wᵀ + b with W stored [out, in] as in PyTorch.
pub fn linear(g: &mut Graph, x: TensorId, weight: TensorId, bias: TensorId) -> TensorId {
    let xw = matmul(g, x, weight, MatmulLayout::NT);
    bias_add(g, xw, bias)
}
