//! The array layer: what part of an array a caller wants, which bytes of a file hold it, and
//! how stored values become the values a caller sees — and back. No files, no headers.
//!
//! * `selection.rs` — [`Selection`]: numpy's basic indexing written down (`sel![..]`, ranges,
//!   Python slice strings), normalised against a shape (nibabel's `fileslice.py` rules).
//! * `plan.rs` — the read planner: from a selection to byte segments of a file, read
//!   straight into the caller's buffer ([`ReadPlan`], [`plan_read`]).
//! * `read_scale.rs` — decoding stored bytes into values, `raw × slope + inter`, with
//!   nibabel's output-dtype rules ([`Scaling`]).
//! * `index_scaling.rs` — factors that change along some axes (AFNI sub-bricks, PAR/REC
//!   slices, ECAT frames): [`IndexScaling`].
//! * `write_scale.rs` — which slope and intercept a save stores, and the bytes it writes
//!   (nibabel's `arraywriters.py`); what a save did to the values ([`ValueCast`]).
//! * `dyn_array.rs` — [`DynArray`]: an n-d array whose element type is known only at run
//!   time, as a file's datatype is.
//!
//! The functions that do the byte work (decoding, write scaling) are the crate's own; the
//! bindings and tests reach them through the hidden `neurovox::internals`.
//!
//! Below it sit [`crate::dtype`] and [`crate::error`]; above it, [`crate::image`] and
//! [`crate::numpy`].

pub(crate) mod casting;
pub(crate) mod dyn_array;
pub(crate) mod index_scaling;
pub(crate) mod plan;
pub(crate) mod read_scale;
pub(crate) mod selection;
pub(crate) mod write_scale;
pub(crate) mod write_values;

pub use dyn_array::{DynArray, DynElement, DynView, slice_array};
pub use index_scaling::IndexScaling;
pub use plan::{
    DataLayout, ReadPlan, output_len, plan_extent, plan_read, read_selection, read_selection_into,
};
pub use read_scale::{FactorType, Scaling};
pub use selection::{Canonical, Selection, SliceArg, SliceItem};
pub use write_scale::ValueCast;
