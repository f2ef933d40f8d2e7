#![no_main]
//! Fuzz target `parrec_recording`: the body is `neurovox::fuzzing::parrec_recording`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::parrec_recording(data);
});
