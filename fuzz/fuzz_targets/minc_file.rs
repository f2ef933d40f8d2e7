#![no_main]
//! Fuzz target `minc_file`: the body is `neurovox::fuzzing::minc_file`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::minc_file(data);
});
