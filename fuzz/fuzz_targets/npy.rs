#![no_main]
//! Fuzz target `npy`: the body is `neurovox::fuzzing::npy`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::npy(data);
});
