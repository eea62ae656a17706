//! Leakage-safe cross-validation splits.

mod held_out;
mod nested;
mod stratified_group;

pub use held_out::{HeldOutSplit, held_out_kfold};
pub use nested::{InnerFold, NestedSplits, OuterFold};
pub use stratified_group::{FoldAssignment, SplitError, stratified_group_kfold};
