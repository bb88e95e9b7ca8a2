//! Compute pipelines cached by shader, preprocessor defines and override constants, so a kernel is
//! compiled once per distinct specialisation however many plans use it.

use std::collections::HashMap;

use super::shaders;

/// What to compile: a WGSL file from `shaders/`, the `//#if NAME` blocks to keep, and values for its
/// `override` constants (shapes, tile sizes, hyperparameters fixed for a plan's lifetime).
#[derive(Clone, Debug)]
pub struct Kernel {
    pub shader: &'static str,
    pub defines: Vec<&'static str>,
    pub constants: Vec<(&'static str, f64)>,
}

impl Kernel {
    pub fn new(shader: &'static str) -> Self {
        Kernel {
            shader,
            defines: Vec::new(),
            constants: Vec::new(),
        }
    }

    pub fn define(mut self, name: &'static str) -> Self {
        self.defines.push(name);
        self
    }

    pub fn define_if(self, condition: bool, name: &'static str) -> Self {
        if condition {
            self.define(name)
        } else {
            self
        }
    }

    pub fn constant(mut self, name: &'static str, value: impl Into<f64>) -> Self {
        self.constants.push((name, value.into()));
        self
    }

    fn module_key(&self) -> String {
        let mut defines = self.defines.clone();
        defines.sort_unstable();
        format!("{}[{}]", self.shader, defines.join(","))
    }

    fn pipeline_key(&self) -> String {
        let constants: Vec<String> = self
            .constants
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}{{{}}}", self.module_key(), constants.join(","))
    }
}

#[derive(Default)]
pub struct PipelineCache {
    modules: HashMap<String, wgpu::ShaderModule>,
    pipelines: HashMap<String, wgpu::ComputePipeline>,
}

impl PipelineCache {
    pub fn get(&mut self, device: &wgpu::Device, kernel: &Kernel) -> wgpu::ComputePipeline {
        let key = kernel.pipeline_key();
        if let Some(pipeline) = self.pipelines.get(&key) {
            return pipeline.clone();
        }
        let module_key = kernel.module_key();
        let module = self
            .modules
            .entry(module_key.clone())
            .or_insert_with(|| {
                let source = preprocess(&shaders::with_includes(kernel.shader), &kernel.defines);
                device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(kernel.shader),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                })
            })
            .clone();
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&module_key),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &kernel.constants,
                zero_initialize_workgroup_memory: true,
            },
            cache: None,
        });
        self.pipelines.insert(key, pipeline.clone());
        pipeline
    }
}

/// Keeps or drops the lines between `//#if NAME`, `//#else` and `//#endif` (nestable), so one WGSL
/// file can hold an op's variants with exactly the bindings each variant uses. `//#if !NAME`
/// negates; `//#if A || B` keeps the block when either is defined.
pub fn preprocess(source: &str, defines: &[&str]) -> String {
    let mut out = String::with_capacity(source.len());
    // Each entry: (this block is active, some branch of it was already taken).
    let mut stack: Vec<(bool, bool)> = Vec::new();
    let active = |stack: &[(bool, bool)]| stack.iter().all(|&(on, _)| on);
    for line in source.lines() {
        let trimmed = line.trim_start();
        if let Some(name) = trimmed.strip_prefix("//#if ") {
            let on = name.split("||").any(|name| {
                let name = name.trim();
                match name.strip_prefix('!') {
                    Some(negated) => !defines.contains(&negated),
                    None => defines.contains(&name),
                }
            });
            stack.push((on, on));
        } else if trimmed.starts_with("//#else") {
            if let Some(top) = stack.last_mut() {
                top.0 = !top.1;
                top.1 = true;
            }
        } else if trimmed.starts_with("//#endif") {
            stack.pop();
        } else if active(&stack) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::preprocess;

    #[test]
    fn preprocess_keeps_only_active_branches() {
        let src = "a\n//#if X\nb\n//#if Y\nc\n//#else\nd\n//#endif\n//#else\ne\n//#endif\n//#if !X\nf\n//#endif\ng\n";
        assert_eq!(preprocess(src, &["X"]), "a\nb\nd\ng\n");
        assert_eq!(preprocess(src, &["X", "Y"]), "a\nb\nc\ng\n");
        assert_eq!(preprocess(src, &[]), "a\ne\nf\ng\n");
        let either = "//#if P || Q\nx\n//#else\ny\n//#endif\n";
        assert_eq!(preprocess(either, &["Q"]), "x\n");
        assert_eq!(preprocess(either, &["R"]), "y\n");
    }
}
