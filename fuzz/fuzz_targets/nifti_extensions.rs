#![no_main]
//! Fuzz target `nifti_extensions`: the body is `neurovox::fuzzing::nifti_extensions`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::nifti_extensions(data);
});
