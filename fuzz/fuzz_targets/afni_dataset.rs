#![no_main]
//! Fuzz target `afni_dataset`: the body is `neurovox::fuzzing::afni_dataset`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::afni_dataset(data);
});
