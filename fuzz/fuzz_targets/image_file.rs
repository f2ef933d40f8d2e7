#![no_main]
//! Fuzz target `image_file`: the body is `neurovox::fuzzing::image_file`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::image_file(data);
});
