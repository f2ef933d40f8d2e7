#![no_main]
//! Fuzz target `nifti2_header`: the body is `neurovox::fuzzing::nifti2_header`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::nifti2_header(data);
});
