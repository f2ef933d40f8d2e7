#![no_main]
//! Fuzz target `image_bytes`: the body is `neurovox::fuzzing::image_bytes`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::image_bytes(data);
});
