//! Every example of `python/tests/doctests/seed004_memmap.txt` ("Memory maps with NumPy"),
//! done with neurovox's Rust API, with the results that file shows; plus the first use of
//! memory maps it describes: one segment of memory shared by two programs.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use ndarray::{Array1, array};
use neurovox::ErrorKind;
use neurovox::numpy::memmap::{MapMode, MemmapArray, MemmapOptions};
use neurovox::numpy::npy::{load_npy, save_npy};
use neurovox::numpy::npz::{NpzArchive, savez};

/// `save(fname, a)` then `load(fname, mmap_mode='r')`: a read-only memmap of the array.
#[test]
fn memmap_single_array_from_npy() {
    let dir = tempfile::tempdir().unwrap();
    let fname = dir.path().join("afile.npy");
    let a = array![[1.0, 2.0], [3.0, 4.0]];
    save_npy(&fname, &a).unwrap();
    let aa = load_npy::<f64>(&fname, Some(MapMode::Read)).unwrap();
    assert!(aa.is_mapped());
    assert_eq!(aa.view().unwrap(), a.view().into_dyn());
    let neurovox::numpy::npy::NpyData::Mapped(mut map) = aa else {
        unreachable!()
    };
    assert_eq!(
        map.view_mut().unwrap_err().kind(),
        ErrorKind::Usage,
        "read-only"
    );
}

/// `savez(fname, a=a, b=b)` then `load(fname, mmap_mode='r')`: members by name.
#[test]
fn memmap_multiple_arrays_from_npz() {
    let dir = tempfile::tempdir().unwrap();
    let fname = dir.path().join("abfile.npz");
    let a = array![[1.0, 2.0], [3.0, 4.0]];
    let b = array![0.5, 1.5];
    savez(&fname, &[("a", &a), ("b", &b)]).unwrap();
    let f = NpzArchive::open(&fname).unwrap();
    let fa = f.load::<f64>("a", Some(MapMode::Read)).unwrap();
    let fb = f.load::<f64>("b", Some(MapMode::Read)).unwrap();
    assert_eq!(fa.to_array(), a.into_dyn());
    assert_eq!(fb.to_array(), b.into_dyn());
    // numpy reads npz members into memory; neurovox maps the stored members in place.
    assert!(fa.is_mapped() && fb.is_mapped());
}

/// `memmap('some_file.dat', dtype=uint16, mode='r+', shape=(5, 5), offset=header_size)`:
/// array methods work on the map, and arithmetic makes an ordinary array in memory.
#[test]
fn memmap_past_a_header_with_array_methods() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("some_file.dat");
    let header_size = 64;
    let mut bytes = vec![0xAB; header_size];
    for v in 0..25u16 {
        bytes.extend_from_slice(&v.to_ne_bytes());
    }
    std::fs::write(&path, &bytes).unwrap();
    let mut image = MemmapArray::<u16>::open(
        &path,
        MemmapOptions::new(MapMode::ReadWrite)
            .shape(&[5, 5])
            .offset(header_size as u64),
    )
    .unwrap();
    let view = image.view().unwrap();
    let mean = view.iter().map(|&v| f64::from(v)).sum::<f64>() / view.len() as f64;
    assert_eq!(mean, 12.0);
    let scaled_image = view.mapv(|v| f64::from(v) * 0.5);
    assert_eq!(scaled_image[[4, 4]], 12.0);
    // r+ writes through to the file, after the untouched header.
    image.view_mut().unwrap()[[0, 0]] = 1000;
    image.flush().unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(&on_disk[..header_size], &bytes[..header_size]);
    assert_eq!(
        &on_disk[header_size..header_size + 2],
        &1000u16.to_ne_bytes()
    );
}

/// Write mode: `memmap('new_file.dat', mode='w+', shape=(2, 5))` is zeros (uint8 by
/// default in numpy); `q[:] = ord('A')`; `q.flush()`; the file reads `AAAAAAAAAA`. Then copy
/// mode: `q[1] = ord('B')` and `flush()` leave the file as it was.
#[test]
fn write_mode_then_copy_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new_file.dat");
    let mut q =
        MemmapArray::<u8>::open(&path, MemmapOptions::new(MapMode::Create).shape(&[2, 5])).unwrap();
    assert!(q.view().unwrap().iter().all(|&v| v == 0));
    q.fill(b'A').unwrap();
    q.flush().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"AAAAAAAAAA");

    let mut c = MemmapArray::<u8>::open(
        &path,
        MemmapOptions::new(MapMode::CopyOnWrite).shape(&[2, 5]),
    )
    .unwrap();
    c.view_mut()
        .unwrap()
        .index_axis_mut(ndarray::Axis(0), 1)
        .fill(b'B');
    c.flush().unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"AAAAAAAAAA",
        "the file is never modified"
    );
    assert_eq!(c.as_bytes(), b"AAAAABBBBB", "the array sees its own writes");
    // The write-through map made earlier still sees the file, not the private copy.
    assert_eq!(q.as_bytes(), b"AAAAAAAAAA");
}

/// Offset: `q[:] = arange(0, 100, 10)` in a 10-element w+ map, then
/// `memmap('new_file.dat', mode='r', dtype=uint8, shape=6, offset=4)` is `[40 .. 90]`.
#[test]
fn read_only_map_at_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new_file.dat");
    let mut q =
        MemmapArray::<u8>::open(&path, MemmapOptions::new(MapMode::Create).shape(&[10])).unwrap();
    q.as_slice_mut()
        .unwrap()
        .copy_from_slice(&Array1::from_iter((0..100).step_by(10).map(|v| v as u8)).to_vec());
    q.flush().unwrap();
    let r = MemmapArray::<u8>::open(
        &path,
        MemmapOptions::new(MapMode::Read).shape(&[6]).offset(4),
    )
    .unwrap();
    assert_eq!(r.as_slice().unwrap(), &[40, 50, 60, 70, 80, 90]);
    // Without a shape, the rest of the file.
    let rest = MemmapArray::<u8>::open(&path, MemmapOptions::new(MapMode::Read).offset(7)).unwrap();
    assert_eq!(rest.as_slice().unwrap(), &[70, 80, 90]);
    // Asking for more than the file holds is an error, not a crash on first touch.
    let e = MemmapArray::<u8>::open(
        &path,
        MemmapOptions::new(MapMode::Read).shape(&[7]).offset(4),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit);
}

const SHARED_FILE_VAR: &str = "NEUROVOX_SHARED_MEMORY_FILE";
const N: usize = 4096;

/// The directory for the shared file: tmpfs (`/dev/shm`) when the machine has it, so the
/// segment lives in memory only, as a shared-memory segment would.
fn shared_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

/// Two programs share one segment of memory: this process maps a file `w+`, a second
/// process maps it `r+` and writes, and this process sees the writes through its own map,
/// without re-reading the file; after `flush` they are in the file too.
#[test]
fn memory_shared_between_two_processes() {
    let dir = shared_dir();
    let path = dir.path().join("segment.f64");
    let mut mine =
        MemmapArray::<f64>::open(&path, MemmapOptions::new(MapMode::Create).shape(&[N])).unwrap();
    mine.set(&[0], -1.0).unwrap();

    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &crate::common::test_name(module_path!(), "child_writes_into_the_shared_segment"),
            "--ignored",
            "--quiet",
        ])
        .env(SHARED_FILE_VAR, &path)
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "the child process failed: {}\n{}{}",
        child.status,
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );

    // The child saw our write and replaced every value with 2*i.
    let view = mine.view().unwrap();
    assert!(
        view.iter().enumerate().all(|(i, &v)| v == 2.0 * i as f64),
        "writes of the other process are visible"
    );
    mine.flush().unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(&on_disk[8 * 10..8 * 11], &20.0f64.to_ne_bytes());
}

/// The second program of `memory_shared_between_two_processes` (run by it, not alone).
#[test]
#[ignore = "run as the child process of memory_shared_between_two_processes"]
fn child_writes_into_the_shared_segment() {
    let path =
        std::env::var_os(SHARED_FILE_VAR).expect("run by memory_shared_between_two_processes");
    let mut theirs =
        MemmapArray::<f64>::open(&path, MemmapOptions::new(MapMode::ReadWrite).shape(&[N]))
            .unwrap();
    assert_eq!(
        theirs.get(&[0]).unwrap(),
        -1.0,
        "the parent's write is visible here"
    );
    for (i, v) in theirs.as_slice_mut().unwrap().iter_mut().enumerate() {
        *v = 2.0 * i as f64;
    }
}
