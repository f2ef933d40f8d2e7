#![no_main]
//! Fuzz target `spm_mat`: the body is `neurovox::fuzzing::spm_mat`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::spm_mat(data);
});
