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

#[cfg(test)]
mod tests {
    use super::Mlp;

    #[test]
    fn layout_uses_pytorch_names_and_init_stays_in_the_kaiming_bound() {
        let mlp = Mlp::new(&[784, 256, 256, 10]);
        let names: Vec<&str> = mlp.layout.specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
        );
        assert_eq!(mlp.layout.specs[0].shape, [256, 784]);
        assert_eq!(
            mlp.layout.parameter_count(),
            784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
        );
        let flat = mlp.init(3);
        assert_eq!(flat, mlp.init(3), "same seed, same weights");
        assert_ne!(flat, mlp.init(4));
        for (i, spec) in mlp.layout.specs.iter().enumerate() {
            // Each bias follows its weight; both use the layer's fan-in.
            let fan_in = mlp.layout.specs[i - i % 2].shape[1];
            let bound = 1.0 / (fan_in as f32).sqrt();
            let values = mlp.layout.tensor(&flat, spec);
            assert!(
                values.iter().all(|v| v.abs() <= bound),
                "{} exceeds ±1/√fan_in",
                spec.name
            );
            // Uniform on [−b, b] has mean 0 and standard deviation b/√3.
            let n = values.len() as f32;
            let mean = values.iter().sum::<f32>() / n;
            let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
            if values.len() > 1000 {
                assert!(
                    mean.abs() < 0.05 * bound && (std / (bound / 3f32.sqrt()) - 1.0).abs() < 0.05,
                    "{}: mean {mean}, std {std}",
                    spec.name
                );
            }
        }
    }
}
