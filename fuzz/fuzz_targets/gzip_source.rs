#![no_main]
//! Fuzz target `gzip_source`: the body is `neurovox::fuzzing::gzip_source`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::gzip_source(data);
});
