#![no_main]
//! Fuzz target `analyze_header`: the body is `neurovox::fuzzing::analyze_header`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::analyze_header(data);
});
