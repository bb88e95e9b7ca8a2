use super::{linear, linear_init, ParamKind, ParamLayout};
use crate::autograd::{Graph, TensorId};
use crate::ops::relu;
use crate::rng::Rng;

/// A multilayer perceptron: Linear → ReLU → … → Linear, named like PyTorch's
/// `nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)` (`0.weight`, `0.bias`, `2.weight`, …) so
/// checkpoints load in PyTorch unchanged.
#[derive(Clone, Debug)]
pub struct Mlp {
    /// Layer widths, input first and classes last, e.g. [784, 256, 256, 10].
    pub sizes: Vec<usize>,
    pub layout: ParamLayout,
}

impl Mlp {
    pub fn new(sizes: &[usize]) -> Self {
        assert!(
            sizes.len() >= 2 && sizes.iter().all(|&s| s > 0),
            "an MLP needs at least input and output widths"
        ); // ok: validated by the config
        let mut layout = ParamLayout::default();
        for (layer, pair) in sizes.windows(2).enumerate() {
            layout.push(
                format!("{}.weight", 2 * layer),
                &[pair[1], pair[0]],
                ParamKind::Weight,
            );
            layout.push(format!("{}.bias", 2 * layer), &[pair[1]], ParamKind::Bias);
        }
        Mlp {
            sizes: sizes.to_vec(),
            layout,
        }
    }

    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }

    pub fn classes(&self) -> usize {
        *self.sizes.last().expect("at least two sizes")
    }

    /// Fresh parameters as a flat host vector in `layout` order (PyTorch's default init).
    pub fn init(&self, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed, 1);
        let mut flat = vec![0.0; self.layout.total_len];
        for (layer, pair) in self.sizes.windows(2).enumerate() {
            let (weight, bias) = linear_init(&mut rng, pair[0], pair[1]);
            let w_spec = &self.layout.specs[2 * layer];
            let b_spec = &self.layout.specs[2 * layer + 1];
            flat[w_spec.offset..w_spec.offset + weight.len()].copy_from_slice(&weight);
            flat[b_spec.offset..b_spec.offset + bias.len()].copy_from_slice(&bias);
        }
        flat
    }

    /// Records the forward pass; `params` are the graph tensors of `layout`, in order.
    pub fn forward(&self, g: &mut Graph, x: TensorId, params: &[TensorId]) -> TensorId {
        let layers = self.sizes.len() - 1;
        let mut h = x;
        for layer in 0..layers {
            h = linear(g, h, params[2 * layer], params[2 * layer + 1]);
            if layer + 1 < layers {
                h = relu(g, h);
            }
        }
        h
    }
}
