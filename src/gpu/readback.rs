//! Async readback: copy into a mappable staging buffer, `map_async`, await. Natively the device is
//! polled so the callback fires; in the browser the event loop resolves it (never block there).

use super::{BufView, Gpu, GpuError};

impl Gpu {
    /// Reads `view` back as raw 32-bit words.
    pub async fn read_words(&self, view: &BufView) -> Result<Vec<u32>, GpuError> {
        self.read_words_then_clear(view, false).await
    }

    /// Reads `view` and zeroes it in the same submission, so nothing submitted later is lost
    /// between the read and the reset (a "take" of GPU-side accumulators).
    pub async fn take_f32(&self, view: &BufView) -> Result<Vec<f32>, GpuError> {
        Ok(self
            .read_words_then_clear(view, true)
            .await?
            .into_iter()
            .map(f32::from_bits)
            .collect())
    }

    async fn read_words_then_clear(
        &self,
        view: &BufView,
        clear: bool,
    ) -> Result<Vec<u32>, GpuError> {
        self.check_health()?;
        let bytes = view.bytes();
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let usage = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        let staging = self.pool.lock().expect("buffer pool poisoned").acquire(
            &self.device,
            &self.queue,
            bytes,
            usage,
        );
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        encoder.copy_buffer_to_buffer(&view.buffer, view.offset, &staging, 0, bytes);
        if clear {
            encoder.clear_buffer(&view.buffer, view.offset, Some(bytes));
        }
        self.queue.submit(Some(encoder.finish()));

        let (sender, receiver) = futures_channel::oneshot::channel();
        staging
            .slice(..bytes)
            .map_async(wgpu::MapMode::Read, move |result| {
                let _ = sender.send(result);
            });
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let mapped = receiver.await.map_err(|_| {
            GpuError::Readback("the device was lost before the read finished".into())
        })?;
        if let Err(e) = mapped {
            // A lost device also fails the mapping; say which of the two happened.
            self.check_health()?;
            return Err(GpuError::Readback(e.to_string()));
        }
        let words = {
            let range = staging
                .slice(..bytes)
                .get_mapped_range()
                .map_err(|e| GpuError::Readback(e.to_string()))?;
            bytemuck::cast_slice::<u8, u32>(&range).to_vec()
        };
        staging.unmap();
        self.release(staging);
        self.check_health()?;
        Ok(words)
    }

    pub async fn read_f32(&self, view: &BufView) -> Result<Vec<f32>, GpuError> {
        Ok(self
            .read_words(view)
            .await?
            .into_iter()
            .map(f32::from_bits)
            .collect())
    }
}
