//! Distribution shifts of a split's images in the style of MNIST-C (Mu & Gilmer 2019): rotation,
//! Gaussian noise, Gaussian blur and contrast, computed on the GPU (shaders/shift.wgsl) from the
//! original bytes into the split's pixel buffer, so the evaluation plans that read the split see
//! the shifted images without being rebuilt. `GpuSplit::shift(None)` puts the originals back.

use super::GpuSplit;
use crate::gpu::{grid_1d, BufView, Gpu, GpuError, Kernel, Plan};

/// One shift of every image of a split (pixel values v in [0, 1]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shift {
    /// Rotation by this many degrees (counter-clockwise on screen) about the image centre,
    /// bilinear, black outside the original.
    Rotate(f64),
    /// v + σ·z with z standard normal per pixel, drawn from `seed`; clipped to [0, 1].
    Noise { sigma: f64, seed: u32 },
    /// Gaussian blur of standard deviation σ pixels over a (2⌈3σ⌉+1)² window (at most 17×17),
    /// black outside the image.
    Blur(f64),
    /// (v − ½)·c + ½: c < 1 lowers the contrast.
    Contrast(f64),
}

/// The widest blur window's radius (σ up to 8/3 pixels keeps its ±3σ).
const MAX_RADIUS: u32 = 8;

impl Shift {
    /// Parses `rotate:DEGREES`, `noise:SIGMA`, `blur:SIGMA` or `contrast:C` (the CLI's form).
    pub fn parse(text: &str) -> Result<Shift, String> {
        let bad = || {
            format!("unknown shift {text:?}: use rotate:DEGREES, noise:SIGMA, blur:SIGMA or contrast:C (e.g. rotate:30)")
        };
        let (kind, value) = text.split_once(':').ok_or_else(bad)?;
        let value = crate::host_math::parse_f64(value.trim()).ok_or_else(bad)?;
        let shift = match kind.trim() {
            "rotate" => Shift::Rotate(value),
            "noise" => Shift::Noise {
                sigma: value,
                seed: 0,
            },
            "blur" => Shift::Blur(value),
            "contrast" => Shift::Contrast(value),
            _ => return Err(bad()),
        };
        shift.validate()?;
        Ok(shift)
    }

    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Shift::Rotate(degrees) if !degrees.is_finite() => Err(format!(
                "rotation must be a finite angle in degrees, got {degrees}"
            )),
            Shift::Noise { sigma, .. } if !(sigma.is_finite() && sigma >= 0.0) => {
                Err(format!("noise σ must be a finite number ≥ 0, got {sigma}"))
            }
            Shift::Blur(sigma)
                if !(sigma.is_finite() && sigma > 0.0 && sigma <= MAX_RADIUS as f64 / 3.0) =>
            {
                Err(format!(
                    "blur σ must be above 0 and at most {:.2} pixels, got {sigma}",
                    MAX_RADIUS as f64 / 3.0
                ))
            }
            Shift::Contrast(c) if !(c.is_finite() && c >= 0.0) => {
                Err(format!("contrast must be a finite number ≥ 0, got {c}"))
            }
            _ => Ok(()),
        }
    }

    /// A short name for tables: "rotate 30°", "noise σ=0.3", …
    pub fn label(&self) -> String {
        match *self {
            Shift::Rotate(d) => format!("rotate {d}°"),
            Shift::Noise { sigma, .. } => format!("noise σ={sigma}"),
            Shift::Blur(s) => format!("blur σ={s}"),
            Shift::Contrast(c) => format!("contrast ×{c}"),
        }
    }

    /// The kernel's (kind, seed, a, b) and blur radius.
    fn params(&self) -> ([u32; 2], [f32; 2], u32) {
        match *self {
            Shift::Rotate(degrees) => {
                let radians = degrees.to_radians();
                let (sin, cos) = (
                    crate::host_math::sin(radians),
                    crate::host_math::cos(radians),
                );
                ([0, 0], [cos as f32, sin as f32], 0)
            }
            Shift::Noise { sigma, seed } => ([1, seed], [sigma as f32, 0.0], 0),
            Shift::Blur(sigma) => (
                [2, 0],
                [sigma as f32, 0.0],
                ((3.0 * sigma).ceil() as u32).clamp(1, MAX_RADIUS),
            ),
            Shift::Contrast(c) => ([3, 0], [c as f32, 0.0], 0),
        }
    }
}

/// The first `bytes` bytes of a split's pixel buffer (`GpuSplit::pixels`), read back.
pub async fn read_pixel_bytes(
    gpu: &Gpu,
    view: &BufView,
    bytes: usize,
) -> Result<Vec<u8>, GpuError> {
    let words = gpu.read_words(view).await?;
    let mut pixels: Vec<u8> = bytemuck::cast_slice(&words).to_vec();
    pixels.truncate(bytes);
    Ok(pixels)
}

impl GpuSplit {
    /// The split's images as they are now on the GPU (shifted or not), one byte per pixel.
    pub async fn read_pixels(&self) -> Result<Vec<u8>, GpuError> {
        let (view, bytes) = self.pixels();
        read_pixel_bytes(&self.gpu, &view, bytes).await
    }

    /// Where the pixels lie as the plans read them (shifted or not) and how many bytes they are,
    /// for a reader that must not hold the split across the wait (`read_pixel_bytes`).
    pub fn pixels(&self) -> (BufView, usize) {
        (self.pixels.clone(), self.count * self.features)
    }

    /// Replaces the split's images by `shift` of the originals (kept on the GPU at the first
    /// shift), or with None puts the originals back. `shape`: channels, height, width.
    pub fn shift(&mut self, shift: Option<Shift>, shape: [usize; 3]) -> Result<(), String> {
        let Some(shift) = shift else {
            if let Some(original) = &self.original {
                let mut plan = Plan::new();
                plan.copy(original, &self.pixels);
                self.gpu.submit(&[&plan]);
            }
            return Ok(());
        };
        shift.validate()?;
        let [_, height, width] = shape;
        if height * width * shape[0] != self.features {
            return Err(format!(
                "a shift needs images of {} bytes, this split has {}",
                height * width * shape[0],
                self.features
            ));
        }
        let original = match &self.original {
            Some(original) => original.clone(),
            None => {
                let copy = self.gpu.alloc(self.pixels.len);
                let mut plan = Plan::new();
                plan.copy(&self.pixels, &copy);
                self.gpu.submit(&[&plan]);
                self.original = Some(copy.clone());
                copy
            }
        };
        let ([kind, seed], [a, b], radius) = shift.params();
        let params: [u32; 4] = [kind, seed, a.to_bits(), b.to_bits()];
        let params = self.gpu.upload(&params);
        let kernel = Kernel::new("shift")
            .constant("BYTES", (self.count * self.features) as u32)
            .constant("PLANE", (height * width) as u32)
            .constant("HEIGHT", height as u32)
            .constant("WIDTH", width as u32)
            .constant("RADIUS", radius);
        let mut plan = Plan::new();
        plan.push(self.gpu.dispatch(
            &kernel,
            &[&original, &params, &self.pixels],
            grid_1d(self.pixels.len),
        ));
        self.gpu.submit(&[&plan]);
        self.gpu.release(params.buffer);
        Ok(())
    }
}
