#![no_main]
//! Fuzz target `mgh_header`: the body is `neurovox::fuzzing::mgh_header`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::mgh_header(data);
});
