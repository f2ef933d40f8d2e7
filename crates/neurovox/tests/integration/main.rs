//! neurovox's integration tests: one test binary, one module per subject, the shared helpers
//! (`tests/common/mod.rs`) compiled once. `cargo test -p neurovox --test integration -- NAME`
//! runs the tests whose `module::test` name contains NAME.
//!
//! The oracle comparisons (one named test per fixture) are the `oracle` target
//! (`tests/oracle/main.rs`). Four tests stay binaries of their own because they change or
//! observe state of the whole process (tests/README.md says why for each): `file_handles.rs`,
//! `gzip_index_env.rs`, `killed_save.rs` and `save_faults.rs`.
//!
//! Tests that re-run this binary for a child test (`dirty_tracking`, `seed_004_memmap`) name
//! the child by its full path through `common::test_name`.

#[path = "../common/mod.rs"]
mod common;

mod dirty_tracking;
mod fuzz_regressions;
mod gzip_damage;
mod gzip_index;
mod gzip_random_access;
mod gzip_write;
#[cfg(feature = "remote")]
mod http_server;
mod malformed;
mod minc_files;
mod mmap_file_handles;
mod numpy_interop;
mod proxy_concurrency;
#[cfg(feature = "remote")]
mod remote;
mod replaced_files;
mod save_roundtrip;
mod save_to_bytes;
mod seed_004_memmap;
mod seeds_images_and_proxies;
mod select_plan;
