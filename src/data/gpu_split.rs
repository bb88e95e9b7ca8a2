use std::sync::Arc;

use super::Split;
use crate::gpu::{grid_1d, BufView, Gpu, GpuError, Kernel, Plan};

/// A split uploaded once as packed bytes, plus the sample order and a cursor that a batch-gather
/// kernel reads. Per step the host writes only the 16-byte cursor.
pub struct GpuSplit {
    pub count: usize,
    pub features: usize,
    pub(super) pixels: BufView,
    labels: BufView,
    order: BufView,
    cursor: wgpu::Buffer,
    /// The images as uploaded, kept while `pixels` holds a shifted copy (shift.rs).
    pub(super) original: Option<BufView>,
    pub(super) gpu: Arc<Gpu>,
}

/// What the gather kernel writes: a normalised batch and its labels.
pub struct Batch {
    pub x: BufView,
    pub labels: BufView,
    pub rows: usize,
}

impl GpuSplit {
    pub fn upload(gpu: &Arc<Gpu>, split: &Split, labels: &[u8]) -> Result<GpuSplit, GpuError> {
        gpu.check_binding_size("the data set's pixels", split.pixels.len() as u64)?;
        let mut padded = split.pixels.clone();
        padded.resize(split.pixels.len().next_multiple_of(4), 0);
        let words: &[u32] = bytemuck::cast_slice(&padded);
        let labels: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        let identity: Vec<u32> = (0..split.count as u32).collect();
        Ok(GpuSplit {
            count: split.count,
            features: split.features,
            pixels: gpu.upload(words),
            labels: gpu.upload(&labels),
            order: gpu.upload(&identity),
            cursor: gpu.alloc_uniform(16),
            original: None,
            gpu: gpu.clone(),
        })
    }

    /// Sets the order in which samples are visited (a permutation of 0..count).
    pub fn set_order(&self, order: &[u32]) {
        self.gpu
            .queue
            .write_buffer(&self.order.buffer, 0, bytemuck::cast_slice(order));
    }

    /// The next submission gathers samples order[start .. start + rows] (rows past the end of the
    /// split are padding the loss ignores); `salt` (the step number) varies the augmentation.
    pub fn set_cursor(&self, start: usize, salt: u64) {
        let cursor = [start as u32, self.count as u32, salt as u32, 0];
        self.gpu
            .queue
            .write_buffer(&self.cursor, 0, bytemuck::cast_slice(&cursor));
    }

    /// The cursor `[start, end, salt, 0]` that `set_cursor` writes (a uniform), for kernels that
    /// need to know which samples the batch holds.
    pub fn cursor(&self) -> BufView {
        BufView {
            buffer: self.cursor.clone(),
            offset: 0,
            len: 4,
        }
    }

    /// A batch buffer pair and the plan that fills it, normalising pixels per channel as
    /// (x/255 − mean[c])/std[c] and, with `augment` (a seed), taking random crops padded by an
    /// eighth of the image size and, for colour images, horizontal flips.
    pub fn gather_plan(
        &self,
        rows: usize,
        norm: &Normalisation,
        augment: Option<u64>,
    ) -> (Batch, Plan) {
        let x = self.gpu.alloc(rows * self.features);
        let labels = self.gpu.alloc(rows);
        let [channels, height, width] = norm.shape;
        let channel = |values: &[f32], c: usize, default: f32| {
            values
                .get(c.min(values.len().saturating_sub(1)))
                .copied()
                .unwrap_or(default)
        };
        // Crops shift by up to an eighth of the image (4 pixels on CIFAR's 32, 3 on MNIST's 28);
        // only colour images are mirrored (a mirrored digit is another glyph).
        let mut kernel = Kernel::new("batch")
            .define_if(augment.is_some(), "AUGMENT")
            .define_if(augment.is_some() && channels == 3, "FLIP")
            .constant("PAD", (height.min(width) / 8).max(1) as u32)
            .constant("ROWS", rows as u32)
            .constant("FEATURES", self.features as u32)
            .constant("PLANE", (self.features / channels.max(1)) as u32)
            .constant("HEIGHT", height as u32)
            .constant("WIDTH", width as u32)
            .constant("SEED", augment.unwrap_or(0) as u32);
        for (c, (mean, inv_std)) in [
            ("MEAN0", "INV_STD0"),
            ("MEAN1", "INV_STD1"),
            ("MEAN2", "INV_STD2"),
        ]
        .into_iter()
        .enumerate()
        {
            kernel = kernel
                .constant(mean, channel(&norm.mean, c, 0.0))
                .constant(inv_std, 1.0 / channel(&norm.std, c, 1.0));
        }
        let cursor = self.cursor();
        let mut plan = Plan::new();
        plan.push(self.gpu.dispatch(
            &kernel,
            &[
                &self.pixels,
                &self.labels,
                &self.order,
                &cursor,
                &x,
                &labels,
            ],
            grid_1d(rows * self.features),
        ));
        (Batch { x, labels, rows }, plan)
    }
}

/// How a split's bytes become network inputs: sample shape and per-channel mean and std (at most
/// three channels).
#[derive(Clone, Debug)]
pub struct Normalisation {
    pub shape: [usize; 3],
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Drop for GpuSplit {
    fn drop(&mut self) {
        for view in [&self.pixels, &self.labels, &self.order]
            .into_iter()
            .chain(self.original.as_ref())
        {
            self.gpu.release(view.buffer.clone());
        }
        self.gpu.release(self.cursor.clone());
    }
}
