use crate::autograd::{Graph, TensorId};
use crate::ops::{bias_add, matmul, MatmulLayout};
use crate::rng::Rng;

/// y = x · Wᵀ + b with W stored [out, in] as in PyTorch.
pub fn linear(g: &mut Graph, x: TensorId, weight: TensorId, bias: TensorId) -> TensorId {
    let xw = matmul(g, x, weight, MatmulLayout::NT);
    bias_add(g, xw, bias)
}

/// PyTorch's default `nn.Linear` init: kaiming-uniform with a = √5 for the weight, which works out
/// to U(−1/√fan_in, 1/√fan_in), and the same bound for the bias. Weight first, then bias.
pub fn linear_init(rng: &mut Rng, fan_in: usize, fan_out: usize) -> (Vec<f32>, Vec<f32>) {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let weight = (0..fan_in * fan_out)
        .map(|_| rng.uniform(-bound, bound))
        .collect();
    let bias = (0..fan_out).map(|_| rng.uniform(-bound, bound)).collect();
    (weight, bias)
}
