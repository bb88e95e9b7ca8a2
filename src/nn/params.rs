use crate::gpu::ALIGN_ELEMS;

/// Whether a tensor is a weight (matrix/filter) or a bias/1-D tensor; ASAM's official form and
/// later per-layer rules treat them differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Weight,
    Bias,
}

#[derive(Clone, Debug)]
pub struct ParamSpec {
    /// PyTorch's state-dict name, e.g. `0.weight`.
    pub name: String,
    pub shape: Vec<usize>,
    /// Offset in elements inside the flat buffer (a multiple of the binding alignment).
    pub offset: usize,
    pub kind: ParamKind,
}

impl ParamSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where each parameter tensor sits in the flat parameter vector. Gradients, saved weights and
/// optimizer state use the same layout, so every optimizer and SAM update is one dispatch. The
/// padding between tensors stays zero in all of them and so never changes a norm or an update.
#[derive(Clone, Debug, Default)]
pub struct ParamLayout {
    pub specs: Vec<ParamSpec>,
    /// Total length in elements, padding included.
    pub total_len: usize,
}

impl ParamLayout {
    pub fn push(&mut self, name: impl Into<String>, shape: &[usize], kind: ParamKind) {
        let offset = self.total_len;
        let len: usize = shape.iter().product();
        self.specs.push(ParamSpec {
            name: name.into(),
            shape: shape.to_vec(),
            offset,
            kind,
        });
        self.total_len = offset + len.next_multiple_of(ALIGN_ELEMS);
    }

    /// Number of trainable scalars (padding excluded).
    pub fn parameter_count(&self) -> usize {
        self.specs.iter().map(ParamSpec::len).sum()
    }

    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.specs.iter().find(|s| s.name == name)
    }

    /// 1.0 on elements of weight tensors, 0.0 elsewhere (biases, padding).
    pub fn weight_mask(&self) -> Vec<f32> {
        let mut mask = vec![0.0; self.total_len];
        for spec in self.specs.iter().filter(|s| s.kind == ParamKind::Weight) {
            mask[spec.offset..spec.offset + spec.len()].fill(1.0);
        }
        mask
    }

    /// Copies tensor `name`'s elements out of a flat host vector.
    pub fn tensor<'a>(&self, flat: &'a [f32], spec: &ParamSpec) -> &'a [f32] {
        &flat[spec.offset..spec.offset + spec.len()]
    }
}
