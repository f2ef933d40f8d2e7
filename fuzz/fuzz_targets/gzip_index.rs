#![no_main]
//! Fuzz target `gzip_index`: the body is `neurovox::fuzzing::gzip_index`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::gzip_index(data);
});
