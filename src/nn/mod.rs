//! Layers and model presets. Parameters live in one flat buffer (see `ParamLayout`); a model
//! describes its tensors, initialises them on the host, and records its forward pass on a graph.

mod linear;
mod model;
mod params;

pub use linear::linear;
pub use model::{ForwardContext, Model, ModelKind};
pub use params::{ParamKind, ParamLayout, ParamSpec};

use crate::autograd::{Graph, TensorId};
use crate::gpu::BufView;

/// Registers every tensor of `layout` as a parameter of `g`, with data in `params` and gradients
/// written into `grads` (both flat buffers with the layout's offsets).
pub fn bind_parameters(
    g: &mut Graph,
    layout: &ParamLayout,
    params: &BufView,
    grads: &BufView,
) -> Vec<TensorId> {
    layout
        .specs
        .iter()
        .map(|spec| {
            let len = spec.len();
            g.parameter(
                params.slice(spec.offset, len),
                grads.slice(spec.offset, len),
                &spec.shape,
            )
        })
        .collect()
}
