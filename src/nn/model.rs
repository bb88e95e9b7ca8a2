//! Model presets as a small layer list: the MLP, a LeNet-5-style CNN, the tfjs-examples MNIST
//! convnet and a ResNet-8 with BatchNorm for CIFAR-10. Parameter names follow the equivalent
//! PyTorch module (`nn.Sequential` indices, or a ResNet's named children), so checkpoints load
//! with `load_state_dict` unchanged.

use super::{linear, ParamKind, ParamLayout};
use crate::autograd::{Graph, TensorId};
use crate::gpu::BufView;
use crate::ops::{self, NormMode, RunningStats};
use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Linear → ReLU → … → Linear with the `hidden` widths.
    Mlp,
    /// conv5×5×6 (pad 2) → ReLU → max-pool → conv5×5×16 → ReLU → max-pool → 120 → 84 → classes.
    Lenet,
    /// tfjs-examples/mnist: conv5×5×8 → ReLU → max-pool → conv5×5×16 → ReLU → max-pool → dense.
    TfjsConvnet,
    /// ResNet-8 (He et al. 2016, CIFAR variant): conv3×3×16 + BN, three basic blocks of 16, 32,
    /// 64 channels (stride 2 and a 1×1 projection at each widening), global average pool, fc.
    Resnet8,
}

impl ModelKind {
    pub const ALL: [ModelKind; 4] = [
        ModelKind::Mlp,
        ModelKind::Lenet,
        ModelKind::TfjsConvnet,
        ModelKind::Resnet8,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Lenet => "lenet",
            ModelKind::TfjsConvnet => "tfjs-convnet",
            ModelKind::Resnet8 => "resnet8",
        }
    }
}

/// How parameters and state start (PyTorch's defaults).
#[derive(Clone, Copy, Debug)]
enum Init {
    /// U(−b, b) with b = 1/√fan_in: Linear and Conv2d weights and biases.
    Uniform(f32),
    Constant(f32),
}

#[derive(Clone, Debug)]
enum Layer {
    Linear {
        weight: usize,
        bias: usize,
    },
    Conv {
        weight: usize,
        bias: Option<usize>,
        stride: usize,
        pad: usize,
    },
    /// `mean` and `var` index the state layout.
    BatchNorm {
        gamma: usize,
        beta: usize,
        mean: usize,
        var: usize,
    },
    Relu,
    MaxPool(usize),
    GlobalAvgPool,
    Flatten,
    Dropout {
        layer: u32,
    },
    /// relu(body(x) + shortcut(x)); an empty shortcut is the identity.
    Residual {
        body: Vec<Layer>,
        shortcut: Vec<Layer>,
    },
}

/// What a forward pass needs besides the parameters.
pub struct ForwardContext<'a> {
    /// BatchNorm's running statistics (the flat state buffer in `Model::state` layout).
    pub state: &'a BufView,
    pub mode: NormMode,
    /// Dropout's `{seed, step}` uniform; dropout is off in evaluation.
    pub step: &'a BufView,
    /// `NormMode::Recompute`: the `{batches seen}` uniform.
    pub seen: Option<&'a BufView>,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub kind: ModelKind,
    /// One sample's shape (channels, height, width).
    pub input: [usize; 3],
    pub classes: usize,
    /// Trainable tensors (the flat parameter vector).
    pub layout: ParamLayout,
    /// Non-trainable tensors (BatchNorm running statistics), saved in checkpoints.
    pub state: ParamLayout,
    /// A one-line description, e.g. "784-256-256-10".
    pub summary: String,
    /// Drop probability of the dropout layer (0: none).
    pub dropout: f32,
    /// Rough count of activation values per sample in a forward pass (for sizing batches).
    pub activations_per_sample: usize,
    layers: Vec<Layer>,
    param_init: Vec<Init>,
    state_init: Vec<Init>,
}

/// Builds a layer list while tracking the activation shape ([C, H, W] or [features]).
struct Builder {
    shape: Vec<usize>,
    layout: ParamLayout,
    state: ParamLayout,
    param_init: Vec<Init>,
    state_init: Vec<Init>,
    /// Index of the next module in an `nn.Sequential` (every layer counts, as in PyTorch).
    module: usize,
    dropouts: u32,
    /// Rough count of activation values one sample produces in a forward pass.
    activations: usize,
}

impl Builder {
    fn new(input: [usize; 3]) -> Self {
        Builder {
            shape: input.to_vec(),
            layout: ParamLayout::default(),
            state: ParamLayout::default(),
            param_init: Vec::new(),
            state_init: Vec::new(),
            module: 0,
            dropouts: 0,
            activations: 0,
        }
    }

    /// The Sequential name of the next module (and advances the index).
    fn next(&mut self) -> String {
        self.module += 1;
        (self.module - 1).to_string()
    }

    fn param(&mut self, name: String, shape: &[usize], kind: ParamKind, init: Init) -> usize {
        self.layout.push(name, shape, kind);
        self.param_init.push(init);
        self.layout.specs.len() - 1
    }

    fn linear(&mut self, name: String, out: usize) -> Result<Layer, String> {
        let [features] = self.shape[..] else {
            return Err(format!(
                "a linear layer needs flat input, got {:?}",
                self.shape
            ));
        };
        // Kernels index the flat vector with u32, and the sizes below must not overflow usize
        // (32 bits on wasm32): refuse absurd widths here, before any product is taken.
        let total = self.layout.total_len as u128 + out as u128 * (features as u128 + 1);
        if total > u32::MAX as u128 {
            return Err(format!(
                "layer {name} ({features} → {out}) would bring the model to {total} parameters, more than the {} a GPU buffer can index; use narrower hidden widths",
                u32::MAX
            ));
        }
        let bound = Init::Uniform(1.0 / (features as f32).sqrt());
        let weight = self.param(
            format!("{name}.weight"),
            &[out, features],
            ParamKind::Weight,
            bound,
        );
        let bias = self.param(format!("{name}.bias"), &[out], ParamKind::Bias, bound);
        self.shape = vec![out];
        self.activations += 2 * out; // output and activation
        Ok(Layer::Linear { weight, bias })
    }

    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        name: String,
        out: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        bias: bool,
    ) -> Result<Layer, String> {
        let [c, h, w] = self.shape[..] else {
            return Err(format!(
                "a convolution needs image input, got {:?}",
                self.shape
            ));
        };
        let (Some(oh), Some(ow)) = (
            ops::window_output(h, kernel, stride, pad),
            ops::window_output(w, kernel, stride, pad),
        ) else {
            return Err(format!(
                "images of {h}×{w} are too small for {name} ({kernel}×{kernel} kernel); pick a model made for this data set"
            ));
        };
        let bound = Init::Uniform(1.0 / ((c * kernel * kernel) as f32).sqrt());
        let weight = self.param(
            format!("{name}.weight"),
            &[out, c, kernel, kernel],
            ParamKind::Weight,
            bound,
        );
        let bias = bias.then(|| self.param(format!("{name}.bias"), &[out], ParamKind::Bias, bound));
        self.shape = vec![out, oh, ow];
        // The output and what follows it (bias or BatchNorm, ReLU, a residual sum).
        self.activations += 3 * out * oh * ow;
        Ok(Layer::Conv {
            weight,
            bias,
            stride,
            pad,
        })
    }

    fn batch_norm(&mut self, name: String) -> Layer {
        let c = self.shape[0];
        let gamma = self.param(
            format!("{name}.weight"),
            &[c],
            ParamKind::Bias,
            Init::Constant(1.0),
        );
        let beta = self.param(
            format!("{name}.bias"),
            &[c],
            ParamKind::Bias,
            Init::Constant(0.0),
        );
        let mut state = |suffix: &str, value: f32| {
            self.state
                .push(format!("{name}.{suffix}"), &[c], ParamKind::Bias);
            self.state_init.push(Init::Constant(value));
            self.state.specs.len() - 1
        };
        let mean = state("running_mean", 0.0);
        let var = state("running_var", 1.0);
        Layer::BatchNorm {
            gamma,
            beta,
            mean,
            var,
        }
    }

    fn max_pool(&mut self, size: usize) -> Result<Layer, String> {
        let [c, h, w] = self.shape[..] else {
            return Err("pooling needs image input".into());
        };
        if h < size || w < size {
            return Err(format!(
                "images shrink to {h}×{w} before a {size}×{size} pooling; pick a model made for this data set"
            ));
        }
        self.shape = vec![c, h / size, w / size];
        self.activations += 2 * c * (h / size) * (w / size); // output and winners
        Ok(Layer::MaxPool(size))
    }

    fn flatten(&mut self) -> Layer {
        self.shape = vec![self.shape.iter().product()];
        Layer::Flatten
    }

    fn dropout(&mut self) -> Layer {
        self.dropouts += 1;
        Layer::Dropout {
            layer: self.dropouts,
        }
    }

    /// Appends Sequential modules: a parameterless layer just takes an index.
    fn seq(&mut self, layers: &mut Vec<Layer>, layer: Layer) {
        if matches!(
            layer,
            Layer::Relu | Layer::MaxPool(_) | Layer::Flatten | Layer::Dropout { .. }
        ) {
            self.next();
        }
        layers.push(layer);
    }
}

impl Model {
    /// The MLP with explicit widths, input first and classes last (e.g. [784, 256, 256, 10]).
    pub fn mlp(sizes: &[usize]) -> Model {
        Model::new(
            ModelKind::Mlp,
            [1, 1, sizes[0]],
            sizes[sizes.len() - 1],
            &sizes[1..sizes.len() - 1],
            0.0,
        )
        .expect("an MLP accepts any widths") // ok: widths validated by the config
    }

    /// Builds `kind` for samples of `input` = [channels, height, width] and `classes` classes.
    /// `hidden` sets the MLP's widths; `dropout` (0 = none) adds a dropout before the last layer.
    pub fn new(
        kind: ModelKind,
        input: [usize; 3],
        classes: usize,
        hidden: &[usize],
        dropout: f64,
    ) -> Result<Model, String> {
        let mut b = Builder::new(input);
        let mut layers = Vec::new();
        let with_dropout = dropout > 0.0;
        let summary;
        match kind {
            ModelKind::Mlp => {
                b.shape = vec![input.iter().product()];
                let mut widths = vec![b.shape[0]];
                for &width in hidden {
                    let name = b.next();
                    let layer = b.linear(name, width)?;
                    layers.push(layer);
                    b.seq(&mut layers, Layer::Relu);
                    widths.push(width);
                }
                if with_dropout {
                    let layer = b.dropout();
                    b.seq(&mut layers, layer);
                }
                let name = b.next();
                layers.push(b.linear(name, classes)?);
                widths.push(classes);
                summary = widths
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join("-");
            }
            ModelKind::Lenet | ModelKind::TfjsConvnet => {
                let lenet = kind == ModelKind::Lenet;
                let (c1, c2, pad) = if lenet { (6, 16, 2) } else { (8, 16, 0) };
                for (out, pad) in [(c1, pad), (c2, 0)] {
                    let name = b.next();
                    layers.push(b.conv(name, out, 5, 1, pad, true)?);
                    b.seq(&mut layers, Layer::Relu);
                    let pool = b.max_pool(2)?;
                    b.seq(&mut layers, pool);
                }
                let flatten = b.flatten();
                b.seq(&mut layers, flatten);
                if lenet {
                    for width in [120, 84] {
                        let name = b.next();
                        layers.push(b.linear(name, width)?);
                        b.seq(&mut layers, Layer::Relu);
                    }
                }
                if with_dropout {
                    let layer = b.dropout();
                    b.seq(&mut layers, layer);
                }
                let name = b.next();
                layers.push(b.linear(name, classes)?);
                summary = kind.name().to_string();
            }
            ModelKind::Resnet8 => {
                layers.push(b.conv("conv1".into(), 16, 3, 1, 1, false)?);
                layers.push(b.batch_norm("bn1".into()));
                layers.push(Layer::Relu);
                for (stage, width) in [16, 32, 64].into_iter().enumerate() {
                    let stride = if stage == 0 { 1 } else { 2 };
                    let prefix = format!("layer{}.0", stage + 1);
                    let in_shape = b.shape.clone();
                    let body = vec![
                        b.conv(format!("{prefix}.conv1"), width, 3, stride, 1, false)?,
                        b.batch_norm(format!("{prefix}.bn1")),
                        Layer::Relu,
                        b.conv(format!("{prefix}.conv2"), width, 3, 1, 1, false)?,
                        b.batch_norm(format!("{prefix}.bn2")),
                    ];
                    let out_shape = std::mem::replace(&mut b.shape, in_shape);
                    let shortcut = if stride != 1 || out_shape[0] != b.shape[0] {
                        vec![
                            b.conv(format!("{prefix}.shortcut.0"), width, 1, stride, 0, false)?,
                            b.batch_norm(format!("{prefix}.shortcut.1")),
                        ]
                    } else {
                        Vec::new()
                    };
                    b.shape = out_shape;
                    layers.push(Layer::Residual { body, shortcut });
                }
                layers.push(Layer::GlobalAvgPool);
                b.shape = vec![b.shape[0]];
                if with_dropout {
                    layers.push(b.dropout());
                }
                layers.push(b.linear("fc".into(), classes)?);
                summary = kind.name().to_string();
            }
        }
        Ok(Model {
            kind,
            input,
            classes,
            layout: b.layout,
            state: b.state,
            summary,
            dropout: dropout as f32,
            activations_per_sample: b.activations.max(1),
            layers,
            param_init: b.param_init,
            state_init: b.state_init,
        })
    }

    /// Parameters then state, as one layout over `[params ‖ state]`: what a checkpoint holds.
    pub fn checkpoint_layout(&self) -> ParamLayout {
        let mut layout = self.layout.clone();
        for spec in &self.state.specs {
            let mut spec = spec.clone();
            spec.offset += self.layout.total_len;
            layout.specs.push(spec);
        }
        layout.total_len += self.state.total_len;
        layout
    }

    /// Features per sample (C·H·W).
    pub fn inputs(&self) -> usize {
        self.input.iter().product()
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Whether the model has BatchNorm layers (running statistics to keep).
    pub fn has_batch_norm(&self) -> bool {
        !self.state.specs.is_empty()
    }

    /// Whether a dropout layer is present.
    pub fn has_dropout(&self) -> bool {
        fn any(layers: &[Layer]) -> bool {
            layers.iter().any(|l| match l {
                Layer::Dropout { .. } => true,
                Layer::Residual { body, shortcut } => any(body) || any(shortcut),
                _ => false,
            })
        }
        any(&self.layers)
    }

    /// Fresh parameters as a flat host vector in `layout` order (PyTorch's default init, drawn in
    /// layout order from PCG32 stream 1 of `seed`).
    pub fn init(&self, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed, 1);
        fill(&self.layout, &self.param_init, &mut rng)
    }

    /// Fresh state (running means 0, variances 1), never empty so it can always be bound.
    pub fn init_state(&self) -> Vec<f32> {
        let mut rng = Rng::new(0, 1);
        let mut state = fill(&self.state, &self.state_init, &mut rng);
        if state.is_empty() {
            state.push(0.0);
        }
        state
    }

    /// Records the forward pass of a batch `x` [N, C·H·W]; `params` are the graph tensors of
    /// `layout`, in order.
    pub fn forward(
        &self,
        g: &mut Graph,
        x: TensorId,
        params: &[TensorId],
        ctx: &ForwardContext,
    ) -> TensorId {
        let rows = g.shape(x)[0];
        let h = if self.kind == ModelKind::Mlp {
            x
        } else {
            let [c, height, width] = self.input;
            ops::reshape(g, x, &[rows, c, height, width])
        };
        self.run(g, &self.layers, h, params, ctx)
    }

    fn run(
        &self,
        g: &mut Graph,
        layers: &[Layer],
        mut h: TensorId,
        params: &[TensorId],
        ctx: &ForwardContext,
    ) -> TensorId {
        for layer in layers {
            h = match *layer {
                Layer::Linear { weight, bias } => linear(g, h, params[weight], params[bias]),
                Layer::Conv {
                    weight,
                    bias,
                    stride,
                    pad,
                } => ops::conv2d(g, h, params[weight], bias.map(|b| params[b]), stride, pad),
                Layer::BatchNorm {
                    gamma,
                    beta,
                    mean,
                    var,
                } => {
                    let view = |i: usize| {
                        let spec = &self.state.specs[i];
                        ctx.state.slice(spec.offset, spec.len())
                    };
                    let running = RunningStats {
                        mean: view(mean),
                        var: view(var),
                        seen: ctx.seen.cloned(),
                    };
                    ops::batch_norm(g, h, params[gamma], params[beta], &running, ctx.mode)
                }
                Layer::Relu => ops::relu(g, h),
                Layer::MaxPool(size) => ops::max_pool2d(g, h, size, size),
                Layer::GlobalAvgPool => ops::global_avg_pool(g, h),
                Layer::Flatten => ops::flatten(g, h),
                Layer::Dropout { layer } => match ctx.mode {
                    NormMode::Train { .. } => ops::dropout(g, h, self.dropout, layer, ctx.step),
                    NormMode::Recompute | NormMode::Eval => h,
                },
                Layer::Residual {
                    ref body,
                    ref shortcut,
                } => {
                    let main = self.run(g, body, h, params, ctx);
                    let skip = self.run(g, shortcut, h, params, ctx);
                    let sum = ops::add(g, main, skip);
                    ops::relu(g, sum)
                }
            };
        }
        h
    }
}

fn fill(layout: &ParamLayout, init: &[Init], rng: &mut Rng) -> Vec<f32> {
    let mut flat = vec![0.0; layout.total_len];
    for (spec, init) in layout.specs.iter().zip(init) {
        let values = &mut flat[spec.offset..spec.offset + spec.len()];
        match *init {
            Init::Uniform(bound) => values
                .iter_mut()
                .for_each(|v| *v = rng.uniform(-bound, bound)),
            Init::Constant(c) => values.fill(c),
        }
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::{Model, ModelKind};

    fn names(model: &Model) -> Vec<&str> {
        model.layout.specs.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn mlp_uses_pytorch_names_and_init_stays_in_the_kaiming_bound() {
        let mlp = Model::mlp(&[784, 256, 256, 10]);
        assert_eq!(
            names(&mlp),
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

    #[test]
    fn cnn_presets_match_their_pytorch_definitions() {
        // nn.Sequential(Conv2d(1,6,5,padding=2), ReLU, MaxPool2d(2), Conv2d(6,16,5), ReLU,
        // MaxPool2d(2), Flatten, Linear(400,120), ReLU, Linear(120,84), ReLU, Linear(84,10)).
        let lenet = Model::new(ModelKind::Lenet, [1, 28, 28], 10, &[], 0.0).unwrap();
        assert_eq!(
            names(&lenet),
            [
                "0.weight",
                "0.bias",
                "3.weight",
                "3.bias",
                "7.weight",
                "7.bias",
                "9.weight",
                "9.bias",
                "11.weight",
                "11.bias"
            ]
        );
        assert_eq!(lenet.layout.specs[6].shape, [84, 120]);
        assert_eq!(lenet.layout.specs[4].shape, [120, 400]);
        assert_eq!(lenet.layout.parameter_count(), 61_706);
        // tfjs-examples/mnist: 28 → 24 → 12 → 8 → 4, so the dense layer reads 16·4·4 = 256.
        let tfjs = Model::new(ModelKind::TfjsConvnet, [1, 28, 28], 10, &[], 0.25).unwrap();
        assert_eq!(
            names(&tfjs),
            ["0.weight", "0.bias", "3.weight", "3.bias", "8.weight", "8.bias"],
            "the dropout takes Sequential index 7"
        );
        assert_eq!(tfjs.layout.specs[4].shape, [10, 256]);
        assert_eq!(tfjs.layout.parameter_count(), 5_994);
        assert!(tfjs.has_dropout() && !tfjs.has_batch_norm());
        // The same presets adapt to CIFAR's 3×32×32 input.
        let lenet_cifar = Model::new(ModelKind::Lenet, [3, 32, 32], 10, &[], 0.0).unwrap();
        assert_eq!(lenet_cifar.layout.specs[4].shape, [120, 16 * 6 * 6]);
        let err = Model::new(ModelKind::TfjsConvnet, [1, 8, 8], 10, &[], 0.0).unwrap_err();
        assert!(err.contains("too small"), "{err}");
    }

    #[test]
    fn resnet8_has_named_blocks_projections_and_running_statistics() {
        let net = Model::new(ModelKind::Resnet8, [3, 32, 32], 10, &[], 0.0).unwrap();
        let names = names(&net);
        for expected in [
            "conv1.weight",
            "bn1.weight",
            "layer1.0.conv2.weight",
            "layer2.0.shortcut.0.weight",
            "layer3.0.shortcut.1.bias",
            "fc.weight",
        ] {
            assert!(names.contains(&expected), "missing {expected}");
        }
        assert!(
            !names.contains(&"layer1.0.shortcut.0.weight"),
            "layer1 keeps the identity"
        );
        assert_eq!(
            net.layout.get("layer3.0.conv1.weight").unwrap().shape,
            [64, 32, 3, 3]
        );
        assert_eq!(net.layout.get("fc.weight").unwrap().shape, [10, 64]);
        // 7 convolutions (no bias), 9 BatchNorms, fc: the torchvision-style count.
        let convs = 16 * 3 * 9
            + 2 * 16 * 16 * 9
            + (32 * 16 * 9 + 32 * 32 * 9 + 32 * 16)
            + (64 * 32 * 9 + 64 * 64 * 9 + 64 * 32);
        let norms = 2 * (16 + 16 + 16 + 32 + 32 + 32 + 64 + 64 + 64);
        assert_eq!(net.layout.parameter_count(), convs + norms + 64 * 10 + 10);
        let state: Vec<&str> = net.state.specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(state.len(), 18);
        assert!(state.contains(&"layer2.0.bn1.running_var"));
        let initial = net.init_state();
        let var = net.state.get("bn1.running_var").unwrap();
        assert!(net.state.tensor(&initial, var).iter().all(|&v| v == 1.0));
        let flat = net.init(0);
        let gamma = net.layout.get("bn1.weight").unwrap();
        assert!(net.layout.tensor(&flat, gamma).iter().all(|&v| v == 1.0));
    }
}
