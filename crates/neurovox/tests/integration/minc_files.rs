//! MINC1 files built byte by byte (a netCDF classic writer of a few lines: the format is a
//! list of dimensions, attributes and variables with their file offsets), read through
//! `neurovox::load`: the values nibabel's formula gives, only the bytes a slice needs, and a
//! clear error naming the file and the field for every structure that cannot hold — never a
//! panic, and nothing allocated from a size the file does not hold. MINC2 (HDF5) files are
//! covered against nibabel in python/tests/test_minc.py and oracle_minc.rs, and by the
//! `minc_file` fuzz target.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use neurovox::image::{ArrayProxy, ArraySpec, Caching};
use neurovox::io::{MemorySource, Source};
use neurovox::{ErrorKind, ImageFormat};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const SHORT: i32 = 3;
const INT: i32 = 4;
const DOUBLE: i32 = 6;

enum Attr {
    Text(&'static str),
    Doubles(Vec<f64>),
}

struct Var {
    name: &'static str,
    dims: Vec<usize>,
    attrs: Vec<(&'static str, Attr)>,
    nc_type: i32,
    data: Vec<u8>,
}

fn name_bytes(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(&(name.len() as i32).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out.resize(out.len().next_multiple_of(4), 0);
}

fn attr_list(out: &mut Vec<u8>, attrs: &[(&'static str, Attr)]) {
    if attrs.is_empty() {
        out.extend_from_slice(&[0; 8]);
        return;
    }
    out.extend_from_slice(&0x0Ci32.to_be_bytes());
    out.extend_from_slice(&(attrs.len() as i32).to_be_bytes());
    for (name, value) in attrs {
        name_bytes(out, name);
        match value {
            Attr::Text(t) => {
                out.extend_from_slice(&2i32.to_be_bytes());
                name_bytes(out, t);
            }
            Attr::Doubles(v) => {
                out.extend_from_slice(&DOUBLE.to_be_bytes());
                out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                for x in v {
                    out.extend_from_slice(&x.to_be_bytes());
                }
            }
        }
    }
}

/// A netCDF classic (CDF-1) file of `dims` and `vars`, each variable's data after the header
/// in order, 4-byte aligned; `begins` overrides a variable's stored offset.
fn netcdf(dims: &[(&str, usize)], vars: &[Var], begins: &[(usize, i32)]) -> Vec<u8> {
    let header = |begin_of: &dyn Fn(usize) -> i32| {
        let mut out = b"CDF\x01".to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0x0Ai32.to_be_bytes());
        out.extend_from_slice(&(dims.len() as i32).to_be_bytes());
        for (name, len) in dims {
            name_bytes(&mut out, name);
            out.extend_from_slice(&(*len as i32).to_be_bytes());
        }
        out.extend_from_slice(&[0; 8]); // no global attributes
        out.extend_from_slice(&0x0Bi32.to_be_bytes());
        out.extend_from_slice(&(vars.len() as i32).to_be_bytes());
        for (i, v) in vars.iter().enumerate() {
            name_bytes(&mut out, v.name);
            out.extend_from_slice(&(v.dims.len() as i32).to_be_bytes());
            for d in &v.dims {
                out.extend_from_slice(&(*d as i32).to_be_bytes());
            }
            attr_list(&mut out, &v.attrs);
            out.extend_from_slice(&v.nc_type.to_be_bytes());
            let vsize = v.data.len().next_multiple_of(4) as i32;
            out.extend_from_slice(&vsize.to_be_bytes());
            out.extend_from_slice(&begin_of(i).to_be_bytes());
        }
        out
    };
    let size = header(&|_| 0).len();
    let mut starts = Vec::new();
    let mut at = size;
    for v in vars {
        starts.push(at as i32);
        at += v.data.len().next_multiple_of(4);
    }
    let begin_of = |i: usize| {
        begins
            .iter()
            .find(|(j, _)| *j == i)
            .map_or(starts[i], |(_, b)| *b)
    };
    let mut out = header(&begin_of);
    for v in vars {
        out.extend_from_slice(&v.data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

const SHAPE: [usize; 3] = [4, 5, 6];

fn dim_var(name: &'static str, step: f64, start: f64, cosines: [f64; 3]) -> Var {
    Var {
        name,
        dims: vec![],
        attrs: vec![
            ("spacing", Attr::Text("regular__")),
            ("step", Attr::Doubles(vec![step])),
            ("start", Attr::Doubles(vec![start])),
            ("direction_cosines", Attr::Doubles(cosines.to_vec())),
        ],
        nc_type: INT,
        data: vec![0; 4],
    }
}

/// The stored int16 values: `v * 7 - 50` clipped to the valid range [-40, 100] on read.
fn stored() -> Vec<i16> {
    (0..SHAPE.iter().product::<usize>())
        .map(|v| (v as i16) * 7 - 50)
        .collect()
}

fn image_min() -> Vec<f64> {
    vec![-1.0, 0.0, 0.5, 2.0]
}

fn image_max() -> Vec<f64> {
    vec![1.0, 10.0, 0.75, 3.0]
}

/// A valid MINC1 image (zspace, yspace, xspace) of int16 with per-z-slice scaling; `edit`
/// changes its variables first, `begins` overrides stored offsets.
fn minc1(edit: impl FnOnce(&mut Vec<Var>, &mut Vec<(&'static str, usize)>)) -> Vec<u8> {
    minc1_with(edit, &[])
}

fn minc1_with(
    edit: impl FnOnce(&mut Vec<Var>, &mut Vec<(&'static str, usize)>),
    begins: &[(usize, i32)],
) -> Vec<u8> {
    let mut dims = vec![
        ("zspace", SHAPE[0]),
        ("yspace", SHAPE[1]),
        ("xspace", SHAPE[2]),
    ];
    let doubles = |v: Vec<f64>| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
    let mut vars = vec![
        dim_var("zspace", 3.0, -10.0, [0.0, 0.0, 1.0]),
        dim_var("yspace", -2.0, 20.0, [0.0, 1.0, 0.0]),
        dim_var("xspace", 2.5, -30.0, [1.0, 0.0, 0.0]),
        Var {
            name: "image",
            dims: vec![0, 1, 2],
            attrs: vec![
                ("signtype", Attr::Text("signed__")),
                ("valid_range", Attr::Doubles(vec![-40.0, 100.0])),
            ],
            nc_type: SHORT,
            data: stored().iter().flat_map(|v| v.to_be_bytes()).collect(),
        },
        Var {
            name: "image-min",
            dims: vec![0],
            attrs: vec![],
            nc_type: DOUBLE,
            data: doubles(image_min()),
        },
        Var {
            name: "image-max",
            dims: vec![0],
            attrs: vec![],
            nc_type: DOUBLE,
            data: doubles(image_max()),
        },
    ];
    edit(&mut vars, &mut dims);
    netcdf(&dims, &vars, begins)
}

/// nibabel's `Minc1File._normalize` of one stored value in z slice `z`.
fn scaled(v: i16, z: usize) -> f64 {
    let (dmin, dmax) = (-40.0, 100.0);
    let slope = (image_max()[z] - image_min()[z]) / (dmax - dmin);
    let inter = image_min()[z] - dmin * slope;
    f64::from(v).clamp(dmin, dmax) * slope + inter
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn values_affine_and_zooms_follow_nibabel() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "ok.mnc", &minc1(|_, _| {}));
    let mut img = neurovox::load(&path).unwrap();
    assert_eq!(img.format(), ImageFormat::Minc1);
    assert_eq!(img.shape(), SHAPE.as_slice());
    let header = img.header().clone();
    assert_eq!(header.zooms(), vec![3.0, 2.0, 2.5]);
    let affine = *img.affine().unwrap();
    // Columns: z (cosines z × 3), y (cosines y × -2), x (cosines x × 2.5); origin cosines · starts.
    assert_eq!(affine[0], [0.0, 0.0, 2.5, -30.0]);
    assert_eq!(affine[1], [0.0, -2.0, 0.0, 20.0]);
    assert_eq!(affine[2], [3.0, 0.0, 0.0, -10.0]);
    let data = img.get_fdata(Caching::Fill).unwrap();
    let plane = SHAPE[1] * SHAPE[2];
    for (i, (&got, &raw)) in data.iter().zip(stored().iter()).enumerate() {
        assert_eq!(got, scaled(raw, i / plane), "voxel {i}");
    }
}

/// A source that counts the bytes read from it.
#[derive(Debug)]
struct Counting(MemorySource, AtomicU64);

impl Source for Counting {
    fn len(&self) -> neurovox::Result<u64> {
        self.0.len()
    }
    fn len_hint(&self) -> Option<u64> {
        self.0.len_hint()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> neurovox::Result<()> {
        self.1.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.0.read_at(offset, buf)
    }
}

#[test]
fn a_slice_reads_only_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = minc1(|_, _| {});
    let path = write(dir.path(), "ok.mnc", &bytes);
    let header = neurovox::read_header(&path).unwrap().header;
    let spec = ArraySpec::from_header(&header).unwrap();
    let source = Arc::new(Counting(MemorySource::new(bytes), AtomicU64::new(0)));
    let proxy = ArrayProxy::from_source(source.clone(), spec);
    let slab = proxy.read(neurovox::sel![2]).unwrap();
    assert_eq!(slab.shape(), &[5, 6]);
    assert_eq!(slab.get_f64(&[1, 2]), Some(scaled(stored()[2 * 30 + 8], 2)));
    // One z slice of 5 × 6 int16 values: 60 bytes, not the image's 240.
    assert_eq!(source.1.load(Ordering::Relaxed), 60);
}

fn expect_error(bytes: &[u8], kind: ErrorKind, field: Option<&str>, words: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.mnc", bytes);
    let err = match neurovox::load(&path) {
        Err(e) => e,
        Ok(_) => panic!("a bad MINC file loaded ({words})"),
    };
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(err.field_name(), field, "{err}");
    assert!(err.to_string().contains(words), "{err}");
    assert!(
        err.to_string().contains("bad.mnc"),
        "error should name the file: {err}"
    );
}

#[test]
fn structures_nibabel_refuses_are_clear_errors() {
    let image = 3;
    let irregular = minc1(|vars, _| vars[1].attrs[0] = ("spacing", Attr::Text("irregular")));
    expect_error(
        &irregular,
        ErrorKind::Format,
        Some("spacing"),
        "Irregular spacing",
    );
    let outside = minc1(|vars, _| {
        vars[image].attrs[1] = ("valid_range", Attr::Doubles(vec![-40000.0, 100.0]))
    });
    expect_error(
        &outside,
        ErrorKind::Format,
        Some("valid_range"),
        "Valid range outside",
    );
    let no_signtype = minc1(|vars, _| {
        vars[image].attrs.remove(0);
    });
    expect_error(
        &no_signtype,
        ErrorKind::Format,
        Some("signtype"),
        "signtype",
    );
    let two_spatial = minc1(|vars, dims| {
        dims[2].0 = "vector_dimension";
        vars[2].name = "vector_dimension";
    });
    expect_error(
        &two_spatial,
        ErrorKind::Format,
        Some("dimorder"),
        "3 spatial dimensions",
    );
    let other_dims = minc1(|vars, _| {
        vars[5].dims = vec![1];
        vars[5].data = [1.0f64; 5].iter().flat_map(|x| x.to_be_bytes()).collect();
    });
    expect_error(
        &other_dims,
        ErrorKind::Format,
        Some("image-max"),
        "same dimensions",
    );
    let no_min = minc1(|vars, _| {
        vars[4].name = "image-minimum";
    });
    // image-min over three dimensions of 2^31 - 1: their product overflows 64 bits.
    let overflowing = minc1(|vars, dims| {
        for name in ["a", "b", "c"] {
            dims.push((name, i32::MAX as usize));
        }
        vars[4].dims = vec![3, 4, 5];
    });
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "overflow.mnc", &overflowing);
    assert!(neurovox::load(&path).is_err());
    expect_error(&no_min, ErrorKind::Format, Some("image-min"), "image-min");
}

#[test]
fn offsets_and_sizes_past_the_file_fail_before_allocating() {
    // The image's bytes start past the end of the file.
    let past = minc1_with(|_, _| {}, &[(3, 1 << 30)]);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "past.mnc", &past);
    let Err(err) = neurovox::load(&path) else {
        panic!("an image past the end of its file loaded");
    };
    assert!(
        matches!(err.kind(), ErrorKind::Limit | ErrorKind::Format),
        "{err}"
    );
    assert!(err.to_string().contains("past.mnc"), "{err}");
    // Dimensions of 2^31 - 1 voxels each: the image would need far more than the file holds.
    let huge = minc1(|_, dims| {
        for d in dims.iter_mut() {
            d.1 = i32::MAX as usize;
        }
    });
    let path = write(dir.path(), "huge.mnc", &huge);
    assert!(neurovox::load(&path).is_err());
}

#[test]
fn every_truncation_and_byte_flip_loads_or_fails_cleanly() {
    let bytes = minc1(|_, _| {});
    let dir = tempfile::tempdir().unwrap();
    for cut in 0..bytes.len() {
        let path = write(dir.path(), "cut.mnc", &bytes[..cut]);
        if let Ok(mut img) = neurovox::load(&path) {
            // Only a cut inside the trailing padding can still hold every value.
            let data = img.get_fdata(Caching::Unchanged).unwrap();
            assert_eq!(data.len(), 120, "cut at {cut}");
        }
    }
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..2000 {
        let mut damaged = bytes.clone();
        for _ in 0..3 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let at = (rng % damaged.len() as u64) as usize;
            damaged[at] = (rng >> 32) as u8;
        }
        let path = write(dir.path(), "flip.mnc", &damaged);
        if let Ok(mut img) = neurovox::load(&path) {
            let _ = img.get_fdata(Caching::Unchanged);
        }
    }
}
