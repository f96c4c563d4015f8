use super::*;
use crate::colormap::{NAN, NEG_INF, POS_INF};

fn gray() -> Options {
    Options {
        cmap: Cmap::Gray,
        ..Options::default()
    }
}

fn px(img: &Image, r: usize, c: usize) -> [u8; 3] {
    let i = (r * img.width + c) * 3;
    [img.rgb[i], img.rgb[i + 1], img.rgb[i + 2]]
}

#[test]
fn small_array_gives_known_pixels() {
    let a = NpyArray::from_vec(vec![2, 3], &[0.0f64, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    let img = render(&a, 0, &gray()).unwrap();
    assert_eq!((img.width, img.height), (3, 2));
    // 0..5 over 256 grey levels: v * 51.
    assert_eq!(px(&img, 0, 0), [0; 3]);
    assert_eq!(px(&img, 0, 1), [51; 3]);
    assert_eq!(px(&img, 1, 0), [153; 3]);
    assert_eq!(px(&img, 1, 2), [255; 3]);
    assert_eq!((img.stats.min, img.stats.max), (Some(0.0), Some(5.0)));
    assert_eq!(img.stats.factor, 1);
}

#[test]
fn explicit_range_clamps() {
    let a = NpyArray::from_vec(vec![1, 3], &[0u16, 10, 20]).unwrap();
    let o = Options {
        vmin: Some(5.0),
        vmax: Some(15.0),
        ..gray()
    };
    let img = render(&a, 0, &o).unwrap();
    assert_eq!(
        (px(&img, 0, 0), px(&img, 0, 1), px(&img, 0, 2)),
        ([0; 3], [128; 3], [255; 3])
    );
}

#[test]
fn log_scale() {
    let a = NpyArray::from_vec(vec![1, 4], &[1.0f32, 10.0, 100.0, 0.0]).unwrap();
    let o = Options {
        scale: Scale::Log,
        ..gray()
    };
    let img = render(&a, 0, &o).unwrap();
    // 1, 10, 100 are 0, 1/2, 1 of the way in log10; 0 cannot be on a log scale: lowest colour.
    assert_eq!(px(&img, 0, 0), [0; 3]);
    assert_eq!(px(&img, 0, 1), [128; 3]);
    assert_eq!(px(&img, 0, 2), [255; 3]);
    assert_eq!(px(&img, 0, 3), [0; 3]);
    assert_eq!((img.stats.lo, img.stats.hi), (1.0, 100.0));
    // Linear on the same data puts 10 near the bottom.
    let lin = render(&a, 0, &gray()).unwrap();
    assert_eq!(px(&lin, 0, 1), [26; 3]);
}

#[test]
fn nan_and_inf_shown_as_such() {
    let a = NpyArray::from_vec(
        vec![2, 2],
        &[1.0f64, f64::NAN, f64::INFINITY, f64::NEG_INFINITY],
    )
    .unwrap();
    let img = render(&a, 0, &gray()).unwrap();
    assert_eq!(px(&img, 0, 1), NAN);
    assert_eq!(px(&img, 1, 0), POS_INF);
    assert_eq!(px(&img, 1, 1), NEG_INF);
    let s = &img.stats;
    assert_eq!((s.nan, s.pos_inf, s.neg_inf), (1, 1, 1));
    // Only the finite value sets the range.
    assert_eq!((s.min, s.max), (Some(1.0), Some(1.0)));
    // Reduced to one pixel, the block shows its finite value, not the NaN.
    let one = render(
        &a,
        0,
        &Options {
            max_side: 1,
            ..gray()
        },
    )
    .unwrap();
    assert_eq!((one.width, one.height, one.stats.nan), (1, 1, 1));
    assert_ne!(px(&one, 0, 0), NAN);
}

#[test]
fn big_endian_and_fortran_order_read_as_c() {
    // Values whose byte-swapped forms are not in proportion (a linear map would hide that).
    let a = NpyArray::from_vec(vec![2, 3], &[-7i32, 1, 300, 3, 70000, 5]).unwrap();
    let want = render(&a, 0, &gray()).unwrap();
    assert_eq!(
        (want.stats.min, want.stats.max),
        (Some(-7.0), Some(70000.0))
    );
    for v in [
        a.with_endian(Endian::Big),
        a.with_order(Order::Fortran),
        a.with_order(Order::Fortran).with_endian(Endian::Big),
    ] {
        assert_ne!(v.data, a.data, "the test must change the bytes");
        let got = render(&v, 0, &gray()).unwrap();
        assert_eq!(
            (got.rgb, got.stats),
            (want.rgb.clone(), want.stats.clone()),
            "{v:?}"
        );
    }
    let f = NpyArray::from_vec(vec![3], &[1.5f64, -2.25, 1e300]).unwrap();
    let v = values(&f.with_endian(Endian::Big));
    assert_eq!(v, vec![Some(1.5), Some(-2.25), Some(1e300)]);
}

#[test]
fn three_d_slices_in_both_orders() {
    let elems: Vec<u8> = (0..24).collect();
    let a = NpyArray::from_vec(vec![4, 2, 3], &elems).unwrap();
    let f = a.with_order(Order::Fortran);
    for i in 0..4 {
        let c = render(&a, i, &gray()).unwrap();
        assert_eq!(c.stats.min, Some((i * 6) as f64));
        assert_eq!(c.stats.max, Some((i * 6 + 5) as f64));
        assert_eq!(render(&f, i, &gray()).unwrap().rgb, c.rgb);
    }
    assert!(render(&a, 4, &gray()).is_err());
    let one_d = NpyArray::from_vec(vec![3], &[1u8, 2, 3]).unwrap();
    assert!(render(&one_d, 0, &gray()).is_err());
}

#[test]
fn decimation_by_block_mean_and_max() {
    // 4x4 → 2x2 blocks; the top-left block holds one hot pixel.
    let mut v = vec![0.0f64; 16];
    v[0] = 100.0;
    v[15] = 50.0;
    let a = NpyArray::from_vec(vec![4, 4], &v).unwrap();
    let o = Options {
        max_side: 2,
        vmin: Some(0.0),
        vmax: Some(100.0),
        ..gray()
    };
    let mean = render(&a, 0, &o).unwrap();
    assert_eq!((mean.width, mean.height, mean.stats.factor), (2, 2, 2));
    assert_eq!(px(&mean, 0, 0), [64; 3]); // 25 of 100
    assert_eq!(px(&mean, 1, 1), [32; 3]); // 12.5 of 100
    let max = render(
        &a,
        0,
        &Options {
            reduce: Reduce::Max,
            ..o
        },
    )
    .unwrap();
    assert_eq!(px(&max, 0, 0), [255; 3]);
    assert_eq!(px(&max, 1, 1), [128; 3]);
    assert_eq!(max.stats.max, Some(100.0));
}

#[test]
fn roi_zooms_to_pixels() {
    let v: Vec<f64> = (0..100).map(f64::from).collect();
    let a = NpyArray::from_vec(vec![10, 10], &v).unwrap();
    let o = Options {
        roi: Some([2, 4, 5, 8]),
        ..gray()
    };
    let img = render(&a, 0, &o).unwrap();
    assert_eq!((img.width, img.height), (3, 2));
    assert_eq!((img.stats.min, img.stats.max), (Some(25.0), Some(37.0)));
    assert_eq!((img.stats.row0, img.stats.col0), (2, 5));
}

#[test]
fn png_has_the_size_and_pixels() {
    let a = NpyArray::from_vec(vec![2, 3], &[0u8, 1, 2, 3, 4, 5]).unwrap();
    let img = render(&a, 0, &gray()).unwrap();
    let png_bytes = encode_png(&img).unwrap();
    let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (3, 2));
    assert_eq!(&buf[..info.buffer_size()], &img.rgb[..]);
}

#[test]
fn complex_as_magnitude_and_series() {
    let a = NpyArray::from_vec(
        vec![1, 2],
        &[
            respd_client::Complex {
                re: 3.0f64,
                im: 4.0,
            },
            respd_client::Complex { re: 0.0, im: 0.0 },
        ],
    )
    .unwrap();
    assert_eq!(render(&a, 0, &gray()).unwrap().stats.max, Some(5.0));
    let y: Vec<f64> = vec![1.0, 5.0, f64::NAN, 2.0, -3.0];
    let s = series(&NpyArray::from_vec(vec![5], &y).unwrap(), 2).unwrap();
    assert_eq!((s.step, s.x.clone()), (3, vec![0, 3]));
    assert_eq!(s.lo, vec![Some(1.0), Some(-3.0)]);
    assert_eq!(s.hi, vec![Some(5.0), Some(2.0)]);
    assert_eq!(s.nan, 1);
}
