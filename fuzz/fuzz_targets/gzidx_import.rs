#![no_main]
//! Fuzz target `gzidx_import`: the body is `neurovox::fuzzing::gzidx_import`, shared with the regression replay.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    neurovox::fuzzing::gzidx_import(data);
});
