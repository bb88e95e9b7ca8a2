//! The tape. Ops record their forward launches and a backward closure as they are called; running
//! `backward` walks the closures in reverse and records the gradient launches. The tape is how a
//! static step plan gets built, once: nothing here runs per step on the CPU.

use std::sync::Arc;

use crate::gpu::{BufView, Command, Gpu, Kernel, Plan};

/// Index of a tensor in its graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorId(usize);

struct TensorEntry {
    shape: Vec<usize>,
    data: BufView,
    requires_grad: bool,
    grad: Option<BufView>,
    /// Whether some backward launch already wrote `grad` (later contributions must add to it).
    grad_written: bool,
}

type BackwardFn = Box<dyn FnOnce(&mut Graph, &BufView)>;

struct TapeEntry {
    output: TensorId,
    backward: BackwardFn,
}

pub struct Graph {
    pub gpu: Arc<Gpu>,
    tensors: Vec<TensorEntry>,
    tape: Vec<TapeEntry>,
    plan: Plan,
    /// Buffers this graph allocated; returned to the pool when the built plan is dropped.
    owned: Vec<wgpu::Buffer>,
    /// Scratch views of an earlier graph this one may reuse (see `recycling`).
    recycle: Vec<BufView>,
    /// The scratch views this graph used, in order, for a later graph to recycle.
    transient: Vec<BufView>,
    /// How ReLU and max-pooling pick their linear pieces (see `Pieces`).
    pieces: Pieces,
    /// One buffer per piecewise op, in the order the ops are built: written in `Record` mode
    /// (ReLU: 1 where x > 0; max-pool: the winner's index), read in `Follow` mode.
    pattern: Vec<BufView>,
    pattern_next: usize,
}

/// The piece a piecewise-linear op (ReLU, max-pooling) uses at each element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pieces {
    /// The usual: chosen by the op's input.
    Free,
    /// Chosen by the input and written into the graph's pattern.
    Record,
    /// Read from a recorded pattern: the network is then smooth in its weights (the Hessian of
    /// the loss in the linear region of the recording point, what a double backward gives), so
    /// finite-difference Hessian-vector products never straddle a kink.
    Follow,
}

/// A built graph: its commands and the buffers it owns.
pub struct BuiltPlan {
    pub plan: Plan,
    gpu: Arc<Gpu>,
    owned: Vec<wgpu::Buffer>,
    transient: Vec<BufView>,
}

impl BuiltPlan {
    /// The scratch (activations, their gradients, per-op temporaries) this plan uses and that
    /// holds nothing once the plan has run: a later plan that never runs concurrently with this
    /// one may reuse it (`Graph::recycling`).
    pub fn scratch(&self) -> Vec<BufView> {
        self.transient.clone()
    }
}

impl Drop for BuiltPlan {
    fn drop(&mut self) {
        for buffer in self.owned.drain(..) {
            self.gpu.release(buffer);
        }
    }
}

impl Graph {
    pub fn new(gpu: &Arc<Gpu>) -> Self {
        Graph {
            gpu: gpu.clone(),
            tensors: Vec::new(),
            tape: Vec::new(),
            plan: Plan::new(),
            owned: Vec::new(),
            recycle: Vec::new(),
            transient: Vec::new(),
            pieces: Pieces::Free,
            pattern: Vec::new(),
            pattern_next: 0,
        }
    }

    /// Makes the piecewise ops built from now on record their pieces (`pattern` returns them).
    pub fn record_pieces(&mut self) {
        self.pieces = Pieces::Record;
    }

    /// Makes the piecewise ops built from now on follow `pattern` (recorded by a graph of the same
    /// model and batch, op for op).
    pub fn follow_pieces(&mut self, pattern: Vec<BufView>) {
        self.pieces = Pieces::Follow;
        self.pattern = pattern;
        self.pattern_next = 0;
    }

    /// The pattern buffers recorded so far.
    pub fn pattern(&self) -> Vec<BufView> {
        self.pattern.clone()
    }

    /// For a piecewise op with `len` outputs: None (free), or the pattern buffer to write
    /// (`false`) or to follow (`true`).
    pub fn piece_slot(&mut self, len: usize) -> Option<(bool, BufView)> {
        match self.pieces {
            Pieces::Free => None,
            Pieces::Record => {
                let view = self.alloc_persistent(len);
                self.pattern.push(view.clone());
                Some((false, view))
            }
            Pieces::Follow => {
                let view = self.pattern.get(self.pattern_next).cloned();
                self.pattern_next += 1;
                // ok: a pattern from another model is a programming error of the caller
                let view =
                    view.expect("the followed pattern has fewer piecewise ops than this graph");
                assert_eq!(view.len, len, "the followed pattern's op sizes differ"); // ok: same
                Some((true, view))
            }
        }
    }

    /// A graph whose scratch reuses `scratch` from an earlier plan (`BuiltPlan::scratch`) where
    /// sizes match. Sound because plans run one after another on the queue and scratch carries
    /// nothing from one pass to the next: SAM's extra passes then cost no extra activation memory.
    /// The earlier plan must outlive this one (it owns the buffers).
    pub fn recycling(gpu: &Arc<Gpu>, scratch: Vec<BufView>) -> Self {
        let mut graph = Graph::new(gpu);
        graph.recycle = scratch;
        graph
    }

    /// A tensor whose data lives in a buffer owned elsewhere (a batch, a dataset); no gradient.
    pub fn input(&mut self, data: BufView, shape: &[usize]) -> TensorId {
        self.push(shape, data, false, None)
    }

    /// A trainable tensor whose gradient is written into `grad` (a view into the flat gradient
    /// buffer), so optimizers see all gradients as one vector.
    pub fn parameter(&mut self, data: BufView, grad: BufView, shape: &[usize]) -> TensorId {
        self.push(shape, data, true, Some(grad))
    }

    fn push(
        &mut self,
        shape: &[usize],
        data: BufView,
        requires_grad: bool,
        grad: Option<BufView>,
    ) -> TensorId {
        debug_assert_eq!(
            data.len,
            shape.iter().product::<usize>(),
            "view length must match the shape"
        );
        self.tensors.push(TensorEntry {
            shape: shape.to_vec(),
            data,
            requires_grad,
            grad,
            grad_written: false,
        });
        TensorId(self.tensors.len() - 1)
    }

    /// A fresh output tensor of an op; it needs a gradient when any of `inputs` does.
    pub fn output(&mut self, shape: &[usize], inputs: &[TensorId]) -> TensorId {
        let requires_grad = inputs.iter().any(|&t| self.tensors[t.0].requires_grad);
        let data = self.alloc(shape.iter().product());
        self.push(shape, data, requires_grad, None)
    }

    /// An op output stored in a view the op allocated itself (e.g. inside a statistics buffer).
    pub fn output_in(&mut self, data: BufView, shape: &[usize], inputs: &[TensorId]) -> TensorId {
        let requires_grad = inputs.iter().any(|&t| self.tensors[t.0].requires_grad);
        self.push(shape, data, requires_grad, None)
    }

    /// A scratch buffer for data that lives within one run of the plan (possibly recycled from
    /// an earlier plan, see `recycling`).
    pub fn alloc(&mut self, len: usize) -> BufView {
        let view = match self.recycle.iter().position(|v| v.len == len) {
            Some(i) => self.recycle.swap_remove(i),
            None => self.alloc_persistent(len),
        };
        self.transient.push(view.clone());
        view
    }

    /// A buffer whose contents are read after the plan has run (e.g. a loss's statistics, read by
    /// the metrics after later passes): never shared with another plan.
    pub fn alloc_persistent(&mut self, len: usize) -> BufView {
        let view = self.gpu.alloc(len);
        self.owned.push(view.buffer.clone());
        view
    }

    pub fn shape(&self, t: TensorId) -> &[usize] {
        &self.tensors[t.0].shape
    }

    pub fn data(&self, t: TensorId) -> &BufView {
        &self.tensors[t.0].data
    }

    pub fn requires_grad(&self, t: TensorId) -> bool {
        self.tensors[t.0].requires_grad
    }

    /// Records a forward (or backward) launch.
    pub fn launch(&mut self, kernel: &Kernel, bindings: &[&BufView], workgroups: [u32; 3]) {
        let command = self.gpu.dispatch(kernel, bindings, workgroups);
        self.plan.push(command);
    }

    pub fn push_command(&mut self, command: Command) {
        self.plan.push(command);
    }

    /// Registers the backward of the op that produced `output`. Skipped when nothing upstream
    /// needs a gradient.
    pub fn record(
        &mut self,
        output: TensorId,
        backward: impl FnOnce(&mut Graph, &BufView) + 'static,
    ) {
        if self.tensors[output.0].requires_grad {
            self.tape.push(TapeEntry {
                output,
                backward: Box::new(backward),
            });
        }
    }

    /// Adds a gradient contribution to `t`: `write` records launches that write (overwrite) the
    /// contribution into the view it is given. The first contribution goes straight into `t`'s
    /// gradient; later ones go to scratch and are added, so ops never need an accumulate mode.
    pub fn contribute_grad(&mut self, t: TensorId, write: impl FnOnce(&mut Graph, &BufView)) {
        if !self.tensors[t.0].requires_grad {
            return;
        }
        let len = self.tensors[t.0].data.len;
        if self.tensors[t.0].grad.is_none() {
            let grad = self.alloc(len);
            self.tensors[t.0].grad = Some(grad);
        }
        let grad = self.tensors[t.0]
            .grad
            .clone()
            .expect("gradient allocated above");
        if !self.tensors[t.0].grad_written {
            write(self, &grad);
            self.tensors[t.0].grad_written = true;
        } else {
            let scratch = self.alloc(len);
            write(self, &scratch);
            crate::ops::add_inplace(self, &grad, &scratch);
        }
    }

    /// Records the backward pass of scalar `loss` (seeded with d loss/d loss = 1).
    pub fn backward(&mut self, loss: TensorId) {
        assert_eq!(
            self.tensors[loss.0].data.len, 1,
            "backward starts from a scalar"
        ); // ok: programming error
        self.contribute_grad(loss, |g, seed| crate::ops::fill(g, seed, 1.0));
        let tape = std::mem::take(&mut self.tape);
        for entry in tape.into_iter().rev() {
            let TensorEntry {
                grad_written,
                ref grad,
                ..
            } = self.tensors[entry.output.0];
            if !grad_written {
                continue; // this op does not reach the loss
            }
            let dy = grad.clone().expect("written gradient exists");
            (entry.backward)(self, &dy);
        }
    }

    /// The gradient view of `t`, if backward wrote one.
    pub fn grad(&self, t: TensorId) -> Option<&BufView> {
        let entry = &self.tensors[t.0];
        entry.grad.as_ref().filter(|_| entry.grad_written)
    }

    pub fn finish(self) -> BuiltPlan {
        BuiltPlan {
            plan: self.plan,
            gpu: self.gpu,
            owned: self.owned,
            transient: self.transient,
        }
    }
}
