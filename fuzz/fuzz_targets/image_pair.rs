#![no_main]
//! Fuzz target `image_pair`: the body is `neurovox::fuzzing::image_pair`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::image_pair(data);
});
