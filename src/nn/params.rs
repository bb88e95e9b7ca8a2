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

    /// One `[flat offset, length, index of the first parameter, row length]` per tensor, for the
    /// kernels that work per tensor or per parameter (shaders/sam_masks.wgsl, probe.wgsl). A row is
    /// `len / shape[0]` long for a tensor of two or more dimensions, the whole tensor otherwise.
    pub fn tensor_table(&self) -> Vec<u32> {
        let mut first = 0;
        let mut table = Vec::new();
        for spec in &self.specs {
            let row = if spec.shape.len() >= 2 {
                spec.len() / spec.shape[0].max(1)
            } else {
                spec.len()
            };
            table.extend([
                spec.offset as u32,
                spec.len() as u32,
                first as u32,
                row as u32,
            ]);
            first += spec.len();
        }
        table
    }

    /// One `[flat offset, length, index of the first parameter, 1 for a 1-D tensor]` per row of
    /// every tensor (an output unit or filter of a ≥ 2-D tensor; a 1-D tensor is one row).
    pub fn row_table(&self) -> Vec<u32> {
        self.tensor_table()
            .chunks(4)
            .zip(&self.specs)
            .flat_map(|(t, spec)| {
                let (offset, len, first, row) = (t[0], t[1], t[2], t[3]);
                let vector = (spec.shape.len() < 2) as u32;
                (0..len / row.max(1))
                    .flat_map(move |j| [offset + j * row, row, first + j * row, vector])
            })
            .collect()
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
