#![no_main]
//! Fuzz target `nifti1_header`: the body is `neurovox::fuzzing::nifti1_header`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::nifti1_header(data);
});
