//! A plan is a fixed list of GPU commands built once (pipelines, bind groups and buffers all made
//! up front) and re-encoded every step. Command buffers are single-use in WebGPU, but encoding a
//! cached list is cheap; nothing is allocated or compiled after warm-up.

#[derive(Clone, Debug)]
pub enum Command {
    Dispatch {
        pipeline: wgpu::ComputePipeline,
        bind_group: wgpu::BindGroup,
        workgroups: [u32; 3],
    },
    Copy {
        src: wgpu::Buffer,
        src_offset: u64,
        dst: wgpu::Buffer,
        dst_offset: u64,
        bytes: u64,
    },
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub commands: Vec<Command>,
}

impl Plan {
    pub fn new() -> Self {
        Plan::default()
    }

    pub fn push(&mut self, command: Command) {
        self.commands.push(command);
    }

    pub fn extend(&mut self, other: Plan) {
        self.commands.extend(other.commands);
    }

    pub fn copy(&mut self, src: &super::BufView, dst: &super::BufView) {
        assert_eq!(src.len, dst.len, "copy between views of different lengths"); // ok: internal invariant
        self.commands.push(Command::Copy {
            src: src.buffer.clone(),
            src_offset: src.offset,
            dst: dst.buffer.clone(),
            dst_offset: dst.offset,
            bytes: src.bytes(),
        });
    }

    /// Consecutive dispatches share one compute pass (WebGPU orders and makes visible the writes of
    /// each dispatch to the next); copies go between passes.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut i = 0;
        while i < self.commands.len() {
            match &self.commands[i] {
                Command::Dispatch { .. } => {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: None,
                    });
                    while let Some(Command::Dispatch {
                        pipeline,
                        bind_group,
                        workgroups,
                    }) = self.commands.get(i)
                    {
                        pass.set_pipeline(pipeline);
                        pass.set_bind_group(0, bind_group, &[]);
                        pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
                        i += 1;
                    }
                }
                Command::Copy {
                    src,
                    src_offset,
                    dst,
                    dst_offset,
                    bytes,
                } => {
                    encoder.copy_buffer_to_buffer(src, *src_offset, dst, *dst_offset, *bytes);
                    i += 1;
                }
            }
        }
    }
}
