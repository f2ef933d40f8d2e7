//! The array layer: what part of an array a caller wants, which bytes of a file hold it, and
//! how stored values become the values a caller sees — and back. No files, no headers.
//!
//! * [`selection`] — [`Selection`]: numpy's basic indexing written down (`sel![..]`, ranges,
//!   Python slice strings), normalised against a shape (nibabel's `fileslice.py` rules).
//! * [`plan`] — the read planner: from a selection to byte segments of a file, read straight
//!   into the caller's buffer ([`ReadPlan`]).
//! * [`read_scale`] — decoding stored bytes into values, `raw × slope + inter`, with nibabel's
//!   output-dtype rules.
//! * [`write_scale`] — which slope and intercept a save stores, and the bytes it writes
//!   (nibabel's `arraywriters.py`).
//! * [`dyn_array`] — [`DynArray`]: an n-d array whose element type is known only at run
//!   time, as a file's datatype is.
//!
//! Below it sit [`crate::dtype`] and [`crate::error`]; above it, [`crate::image`] and
//! [`crate::numpy`].

pub mod dyn_array;
pub mod plan;
pub mod read_scale;
pub mod selection;
pub mod write_scale;

pub use dyn_array::{digest_memory, slice_array, DynArray, DynElement, DynView};
pub use plan::{
    output_len, plan_extent, plan_read, plan_read_from, read_selection, read_selection_into,
    DataLayout, ReadPlan, PIECE_BYTES, SKIP_THRESHOLD,
};
pub use read_scale::{
    apply_scaling, decode_raw, decode_raw_with, decode_raw_with_room, decode_scaled,
    scale_bytes_into, scale_into, FactorType, FloatOut, Scaling,
};
pub use selection::{Canonical, Selection, SliceArg, SliceItem};
pub use write_scale::{
    choose_scaling, choose_scaling_for_range, choose_scaling_for_view, finite_range,
    unscaled_by_type, write_values, write_view, DataRange, Extreme, ValueCast, WriteScaling,
    WriterKind,
};
