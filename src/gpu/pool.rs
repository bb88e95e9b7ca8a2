//! Buffers are reused by (size, usage): a plan rebuilt for the same shapes gets the same buffers
//! back instead of allocating, and the counters let tests prove that steady state allocates nothing.

use std::collections::HashMap;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers created over the pool's lifetime.
    pub created: u64,
    /// Buffers handed out and not yet returned.
    pub live: u64,
    /// Bytes of the buffers handed out and not yet returned.
    pub live_bytes: u64,
}

#[derive(Default)]
pub struct BufferPool {
    free: HashMap<(u64, u32), Vec<wgpu::Buffer>>,
    stats: PoolStats,
}

impl BufferPool {
    /// A buffer of exactly `bytes` bytes; reused ones are zeroed again so callers always start clean.
    pub fn acquire(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        self.stats.live += 1;
        self.stats.live_bytes += bytes;
        if let Some(buffer) = self.free.get_mut(&(bytes, usage.bits())).and_then(Vec::pop) {
            if usage.contains(wgpu::BufferUsages::COPY_DST)
                && !usage.contains(wgpu::BufferUsages::MAP_READ)
            {
                queue.write_buffer(&buffer, 0, &vec![0u8; bytes as usize]);
            }
            return buffer;
        }
        self.stats.created += 1;
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    }

    pub fn release(&mut self, buffer: wgpu::Buffer) {
        self.stats.live = self.stats.live.saturating_sub(1);
        self.stats.live_bytes = self.stats.live_bytes.saturating_sub(buffer.size());
        self.free
            .entry((buffer.size(), buffer.usage().bits()))
            .or_default()
            .push(buffer);
    }

    pub fn stats(&self) -> PoolStats {
        self.stats
    }
}
