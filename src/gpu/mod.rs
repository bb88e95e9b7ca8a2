//! The only layer (with `ops/`) that touches `wgpu`: device creation, buffer pool, pipeline cache,
//! async readback and the static command plans that a training step re-encodes every step.
//!
//! One code path serves native (Vulkan/Metal/DX12) and wasm32 (WebGPU): every read is `async`,
//! because the browser can never block on the GPU.

// wgpu's handles are Send + Sync natively; on wasm32 they are not (JS objects), and there the
// whole program is single-threaded, so sharing them through Arc is still sound.
#![allow(clippy::arc_with_non_send_sync)]

mod pipelines;
mod plan;
mod pool;
mod readback;
pub mod shaders;

use std::sync::{Arc, Mutex};

pub use pipelines::Kernel;
pub use plan::{Command, Plan};
pub use pool::PoolStats;

use pipelines::PipelineCache;
use pool::BufferPool;

/// Storage-binding offsets must be multiples of this on every adapter we target (WebGPU's default
/// `min_storage_buffer_offset_alignment`), so every tensor view starts on such a boundary.
pub const OFFSET_ALIGNMENT_BYTES: u64 = 256;
/// Elements (f32/u32) per alignment unit.
pub const ALIGN_ELEMS: usize = (OFFSET_ALIGNMENT_BYTES / 4) as usize;

/// Number of independent scratch buffers `Gpu::workspace` keeps.
pub const WORKSPACE_SLOTS: usize = 2;

/// Invocations per workgroup used by 1-D kernels: the most SwiftShader allows.
pub const WORKGROUP_1D: u32 = 256;

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error(
        "no WebGPU/Vulkan adapter found ({0}). Natively install a Vulkan driver (on Debian: \
         `apt-get install mesa-vulkan-drivers`); in a browser use Chrome/Edge 113+ or enable WebGPU \
         (chrome://flags/#enable-unsafe-webgpu, Firefox 141+, Safari 26+)"
    )]
    NoAdapter(String),
    #[error("the GPU adapter refused to create a device: {0}")]
    NoDevice(String),
    #[error("reading back from the GPU failed: {0}")]
    Readback(String),
    #[error("{what} needs {needed} bytes in one binding, more than this adapter's limit of {limit} bytes")]
    TooLarge {
        what: String,
        needed: u64,
        limit: u64,
    },
    #[error(
        "the GPU device was lost ({0}); restart the run (weights you saved can be loaded again)"
    )]
    DeviceLost(String),
    #[error("the GPU reported an error: {0}")]
    Validation(String),
}

/// A window of elements (4 bytes each) inside a GPU buffer. Offsets are 256-byte aligned whenever
/// the view is meant to be bound as storage.
#[derive(Clone, Debug)]
pub struct BufView {
    pub buffer: wgpu::Buffer,
    /// Offset in bytes.
    pub offset: u64,
    /// Length in 4-byte elements.
    pub len: usize,
}

impl BufView {
    pub fn whole(buffer: &wgpu::Buffer) -> Self {
        BufView {
            buffer: buffer.clone(),
            offset: 0,
            len: (buffer.size() / 4) as usize,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.len as u64 * 4
    }

    /// A sub-view of `len` elements starting `start` elements in.
    pub fn slice(&self, start: usize, len: usize) -> Self {
        assert!(start + len <= self.len, "view slice out of range"); // ok: internal invariant
        BufView {
            buffer: self.buffer.clone(),
            offset: self.offset + start as u64 * 4,
            len,
        }
    }
}

/// Usage of every buffer that holds tensors or optimizer state.
pub const STORAGE_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);
pub const UNIFORM_USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::UNIFORM.union(wgpu::BufferUsages::COPY_DST);

pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter_info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// The subgroup size when the device has subgroups of one fixed size of 4 or 8 invocations
    /// (CPU adapters: SwiftShader 4, lavapipe 8); the matmul kernel then shares loads across a
    /// subgroup (shaders/matmul.wgsl). None elsewhere.
    pub fixed_subgroup_size: Option<u32>,
    pipelines: Mutex<PipelineCache>,
    pool: Arc<Mutex<BufferPool>>,
    /// Set when the device is lost or reports an error nobody captured; every read checks it, so
    /// faults surface as errors (on the page: a message) rather than panics.
    fault: Arc<Mutex<Option<GpuError>>>,
    /// Scratch shared by every plan on this device (see `workspace`).
    workspace: Mutex<[Option<wgpu::Buffer>; WORKSPACE_SLOTS]>,
}

impl Gpu {
    /// Finds an adapter and opens a device with the adapter's own limits (we check our needs
    /// against them explicitly instead of asking for more than WebGPU's defaults).
    pub async fn new() -> Result<Arc<Gpu>, GpuError> {
        Gpu::with_backends(wgpu::Backends::all()).await
    }

    /// Like `new`, restricted to `backends` (an empty set shows the no-adapter error).
    pub async fn with_backends(backends: wgpu::Backends) -> Result<Arc<Gpu>, GpuError> {
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
        descriptor.backends = backends;
        let instance = wgpu::Instance::new(descriptor);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let adapter_limits = adapter.limits();
        let info = adapter.get_info();
        let fixed_subgroup_size = (adapter.features().contains(wgpu::Features::SUBGROUP)
            && info.subgroup_min_size == info.subgroup_max_size
            && matches!(info.subgroup_min_size, 4 | 8))
        .then_some(info.subgroup_min_size);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("samlab"),
                required_features: if fixed_subgroup_size.is_some() {
                    wgpu::Features::SUBGROUP
                } else {
                    wgpu::Features::empty()
                },
                required_limits: adapter_limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoDevice(e.to_string()))?;
        let fault: Arc<Mutex<Option<GpuError>>> = Arc::new(Mutex::new(None));
        let on_lost = fault.clone();
        device.set_device_lost_callback(move |_reason, message| {
            let mut fault = on_lost.lock().expect("fault slot poisoned");
            fault.get_or_insert(GpuError::DeviceLost(message));
        });
        let on_error = fault.clone();
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            let mut fault = on_error.lock().expect("fault slot poisoned");
            fault.get_or_insert(GpuError::Validation(error.to_string()));
        }));
        Ok(Arc::new(Gpu {
            adapter_info: info,
            limits: device.limits(),
            fixed_subgroup_size,
            device,
            queue,
            pipelines: Mutex::new(PipelineCache::default()),
            pool: Arc::new(Mutex::new(BufferPool::default())),
            fault,
            workspace: Mutex::new([None, None]),
        }))
    }

    /// Destroys the device, as a driver reset or a browser's GPU-process crash would: the
    /// device-lost callback records the fault and every later readback reports it. For tests of
    /// the recovery paths (the page's Restart, the CLI's error).
    pub fn lose_device(&self) {
        // Native wgpu reports a destroyed device through validation errors rather than the lost
        // callback, so record the loss as the callback would, then destroy.
        self.fault
            .lock()
            .expect("fault slot poisoned")
            .get_or_insert(GpuError::DeviceLost("destroyed by a test".into()));
        self.device.destroy();
    }

    /// The first device loss or uncaptured GPU error seen so far, if any.
    pub fn check_health(&self) -> Result<(), GpuError> {
        match self.fault.lock().expect("fault slot poisoned").as_ref() {
            None => Ok(()),
            Some(GpuError::DeviceLost(m)) => Err(GpuError::DeviceLost(m.clone())),
            Some(GpuError::Validation(m)) => Err(GpuError::Validation(m.clone())),
            Some(other) => Err(GpuError::Validation(other.to_string())),
        }
    }

    /// One line naming the adapter, for logs and benchmark tables.
    pub fn adapter_name(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.adapter_info.name, self.adapter_info.backend, self.adapter_info.device_type
        )
    }

    /// Takes a zero-filled storage buffer of at least `len` elements from the pool.
    pub fn alloc(&self, len: usize) -> BufView {
        let bytes = (len.max(1) as u64 * 4).next_multiple_of(OFFSET_ALIGNMENT_BYTES);
        let buffer = self.pool.lock().expect("buffer pool poisoned").acquire(
            &self.device,
            &self.queue,
            bytes,
            STORAGE_USAGE,
        );
        BufView {
            buffer,
            offset: 0,
            len,
        }
    }

    /// A scratch buffer of at least `len` elements shared by all plans on this device, for data
    /// that lives only between two consecutive dispatches of one op (a convolution's column
    /// tensor). Plans run one after another on the queue, so sharing is safe and keeps memory
    /// at one op's need instead of the sum over every layer and pass. When a larger one is needed,
    /// a new buffer replaces it; plans built earlier keep theirs alive through their bind groups.
    /// Separate `slot`s are separate buffers, for a dispatch that reads one scratch and writes
    /// another (WebGPU forbids a buffer bound writable twice in one dispatch).
    pub fn workspace(&self, slot: usize, len: usize) -> BufView {
        let mut slots = self.workspace.lock().expect("workspace poisoned");
        let slot = &mut slots[slot];
        let bytes = (len.max(1) as u64 * 4).next_multiple_of(OFFSET_ALIGNMENT_BYTES);
        if slot.as_ref().is_none_or(|b| b.size() < bytes) {
            *slot = Some(self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("workspace"),
                size: bytes,
                usage: STORAGE_USAGE,
                mapped_at_creation: false,
            }));
        }
        let buffer = slot.as_ref().expect("set above").clone();
        BufView {
            buffer,
            offset: 0,
            len,
        }
    }

    /// A storage buffer filled with `data` (f32 or u32 words).
    pub fn upload<T: bytemuck::Pod>(&self, data: &[T]) -> BufView {
        let words = std::mem::size_of_val(data) / 4;
        let view = self.alloc(words);
        if !data.is_empty() {
            self.queue
                .write_buffer(&view.buffer, 0, bytemuck::cast_slice(data));
        }
        view
    }

    /// A uniform buffer of `bytes` bytes (rounded to 16).
    pub fn alloc_uniform(&self, bytes: u64) -> wgpu::Buffer {
        let bytes = bytes.next_multiple_of(16);
        self.pool.lock().expect("buffer pool poisoned").acquire(
            &self.device,
            &self.queue,
            bytes,
            UNIFORM_USAGE,
        )
    }

    /// Hands a buffer back to the pool for reuse by a later allocation of the same size and usage.
    pub fn release(&self, buffer: wgpu::Buffer) {
        self.pool
            .lock()
            .expect("buffer pool poisoned")
            .release(buffer);
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.pool.lock().expect("buffer pool poisoned").stats()
    }

    /// Fails with a clear message when one binding would exceed the adapter's limit.
    pub fn check_binding_size(&self, what: &str, bytes: u64) -> Result<(), GpuError> {
        let limit = self.limits.max_storage_buffer_binding_size;
        if bytes > limit {
            return Err(GpuError::TooLarge {
                what: what.to_string(),
                needed: bytes,
                limit,
            });
        }
        Ok(())
    }

    /// A dispatch of `kernel` over `workgroups`, binding `bindings` to @binding(0), (1), … of
    /// group 0 in order. Pipelines are cached; the bind group is made once, here, at plan-build time.
    pub fn dispatch(
        &self,
        kernel: &Kernel,
        bindings: &[&BufView],
        workgroups: [u32; 3],
    ) -> Command {
        let pipeline = self
            .pipelines
            .lock()
            .expect("pipeline cache poisoned")
            .get(&self.device, kernel);
        let layout = pipeline.get_bind_group_layout(0);
        let entries: Vec<wgpu::BindGroupEntry> = bindings
            .iter()
            .enumerate()
            .map(|(i, view)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &view.buffer,
                    offset: view.offset,
                    size: wgpu::BufferSize::new(view.bytes().max(4)),
                }),
            })
            .collect();
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.shader),
            layout: &layout,
            entries: &entries,
        });
        Command::Dispatch {
            pipeline,
            bind_group,
            workgroups,
        }
    }

    /// Encodes `plans` in order into one command encoder and submits it once.
    pub fn submit(&self, plans: &[&Plan]) {
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("step"),
            });
        for plan in plans {
            plan.encode(&mut encoder);
        }
        self.queue.submit(Some(encoder.finish()));
    }
}

/// Workgroup counts for `threads` invocations of a 1-D kernel with `WORKGROUP_1D` lanes, folded
/// into two dimensions when one would exceed the 65,535 limit. Kernels recover the flat index as
/// `(wg.y * num_wg.x + wg.x) * 256 + lane`.
pub fn grid_1d(threads: usize) -> [u32; 3] {
    let groups = threads.div_ceil(WORKGROUP_1D as usize).max(1);
    if groups <= 65_535 {
        [groups as u32, 1, 1]
    } else {
        let x = 65_535usize;
        [x as u32, groups.div_ceil(x) as u32, 1]
    }
}

/// Buffers whose lifetime is tied to an owner (a trainer, a plan): returned to the pool on drop.
pub struct OwnedBuffers {
    gpu: Arc<Gpu>,
    buffers: Vec<wgpu::Buffer>,
}

impl OwnedBuffers {
    pub fn new(gpu: &Arc<Gpu>) -> Self {
        OwnedBuffers {
            gpu: gpu.clone(),
            buffers: Vec::new(),
        }
    }

    pub fn keep(&mut self, view: &BufView) {
        self.buffers.push(view.buffer.clone());
    }

    pub fn keep_buffer(&mut self, buffer: &wgpu::Buffer) {
        self.buffers.push(buffer.clone());
    }
}

impl Drop for OwnedBuffers {
    fn drop(&mut self) {
        for buffer in self.buffers.drain(..) {
            self.gpu.release(buffer);
        }
    }
}
