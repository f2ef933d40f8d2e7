#![no_main]
//! Fuzz target `ecat_image`: the body is `neurovox::fuzzing::ecat_image`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::ecat_image(data);
});
