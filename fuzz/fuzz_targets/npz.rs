#![no_main]
//! Fuzz target `npz`: the body is `neurovox::fuzzing::npz`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::npz(data);
});
