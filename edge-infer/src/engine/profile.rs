//! Where a run's time goes: wall time per operator type, measured around each node.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::eval;

/// Time spent in one kind of operator.
#[derive(Debug, Clone, PartialEq)]
pub struct OpTime {
    /// tract's operator name after optimisation (e.g. `OptMatMul`, `Conv`).
    pub op: String,
    /// Nodes of this kind in the plan.
    pub nodes: usize,
    /// Total time over the profiled runs.
    pub total: Duration,
}

/// Per-operator timings accumulated over runs.
#[derive(Debug, Default)]
pub struct Profile {
    by_op: BTreeMap<String, (std::collections::BTreeSet<usize>, Duration)>,
    runs: usize,
}

impl Profile {
    pub(super) fn run(&mut self, state: &mut TypedSimpleState, input: TValue) -> TractResult<()> {
        let by_op = &mut self.by_op;
        state.run_plan_with_eval(tvec![input], |ctx, op_state, node, inputs| {
            let started = Instant::now();
            let result = eval(ctx, op_state, node, inputs);
            let entry = by_op.entry(node.op.name().to_string()).or_default();
            entry.0.insert(node.id);
            entry.1 += started.elapsed();
            result
        })?;
        self.runs += 1;
        Ok(())
    }

    /// Runs profiled so far.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// Operator kinds, slowest first.
    pub fn ops(&self) -> Vec<OpTime> {
        let mut ops: Vec<OpTime> = self
            .by_op
            .iter()
            .map(|(op, (nodes, total))| OpTime {
                op: op.clone(),
                nodes: nodes.len(),
                total: *total,
            })
            .collect();
        ops.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.op.cmp(&b.op)));
        ops
    }
}
