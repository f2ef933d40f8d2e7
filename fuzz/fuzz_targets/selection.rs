#![no_main]
//! Fuzz target `selection`: the body is `neurovox::fuzzing::selection`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::selection(data);
});
