//! Measures what `Image::is_dirty` costs: a header/file check, and the data digest.
use neurovox::image::Caching;
fn main() -> Result<(), neurovox::Error> {
    let dir = std::env::temp_dir().join("neurovox-digest-cost");
    std::fs::create_dir_all(&dir).map_err(neurovox::Error::io)?;
    let n = 128usize;
    let data = ndarray::Array::from_shape_fn((n, n, n, 64), |(i, j, k, t)| (i + j + k + t) as f32)
        .into_dyn();
    let path = dir.join("big.nii");
    let mut img = neurovox::Image::from_array(data, None, neurovox::ImageFormat::Nifti1)?;
    img.to_filename(&path, Default::default())?;
    let mut img = neurovox::load(&path)?;
    let t = std::time::Instant::now();
    for _ in 0..1000 {
        assert!(!img.is_dirty());
    }
    println!(
        "clean check, no data exposed: {:.1} us",
        t.elapsed().as_secs_f64() * 1e3
    );
    let fdata = img.get_fdata(Caching::Fill)?;
    let bytes = fdata.len() * 8;
    let t = std::time::Instant::now();
    img.get_fdata_mut::<f64>()?;
    println!(
        "first mutable access (digest of {:.2} GiB): {:.3} s",
        bytes as f64 / (1u64 << 30) as f64,
        t.elapsed().as_secs_f64()
    );
    let t = std::time::Instant::now();
    assert!(!img.is_dirty());
    println!(
        "check with data exposed: {:.3} s",
        t.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(&dir).map_err(neurovox::Error::io)?;
    Ok(())
}
