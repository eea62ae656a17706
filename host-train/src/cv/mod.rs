//! Leakage-safe cross-validation splits.

mod nested;
mod stratified_group;

pub use nested::{InnerFold, NestedSplits, OuterFold};
pub use stratified_group::{FoldAssignment, SplitError, stratified_group_kfold};
