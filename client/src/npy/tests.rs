use super::*;

fn roundtrip(a: &NpyArray) -> NpyArray {
    NpyArray::from_npy(a.to_npy().into()).expect("parse")
}

#[test]
fn header_is_numpy_v1_aligned() {
    let a = NpyArray::from_vec(vec![2, 3], &[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let h = a.header();
    assert_eq!(h.len() % 64, 0);
    assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
    let text = std::str::from_utf8(&h[10..]).unwrap();
    assert!(
        text.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"),
        "{text}"
    );
    assert!(text.ends_with('\n'));
}

#[test]
fn every_dtype_round_trips_both_orders_and_endians() {
    let shape = vec![3, 4, 2];
    let base = NpyArray::from_vec(shape.clone(), &(0..24i64).collect::<Vec<_>>()).unwrap();
    for dt in DType::ALL {
        let n = 24 * dt.size();
        let data: Vec<u8> = (0..n)
            .map(|i| {
                if dt == DType::Bool {
                    (i % 2) as u8
                } else {
                    (i * 7 % 251) as u8
                }
            })
            .collect();
        let a =
            NpyArray::from_raw(dt, Endian::Little, Order::C, shape.clone(), data.into()).unwrap();
        for order in [Order::C, Order::Fortran] {
            for endian in [Endian::Little, Endian::Big] {
                let b = a.with_order(order).with_endian(endian);
                let back = roundtrip(&b);
                assert_eq!(back, b, "{dt:?} {order:?} {endian:?}");
                let normal = back.with_endian(Endian::Little).with_order(Order::C);
                assert_eq!(normal.data, a.data, "{dt:?} {order:?} {endian:?}");
            }
        }
    }
    assert_eq!(base.to_vec::<i64>().unwrap()[23], 23);
}

#[test]
fn fortran_to_vec_is_c_order() {
    let a = NpyArray::from_vec(vec![2, 3], &[0i32, 1, 2, 3, 4, 5]).unwrap();
    let f = a.with_order(Order::Fortran);
    assert_eq!(f.to_vec::<i32>().unwrap(), vec![0, 1, 2, 3, 4, 5]);
    // Column-major bytes: a[0,0], a[1,0], a[0,1], ...
    assert_eq!(
        NpyArray {
            order: Order::C,
            ..f.clone()
        }
        .to_vec::<i32>()
        .unwrap(),
        vec![0, 3, 1, 4, 2, 5]
    );
}

#[test]
fn reads_versions_2_and_3_and_odd_headers() {
    for (major, text) in [
        (
            2u8,
            "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }",
        ),
        (
            3u8,
            "{\"descr\": \"<u2\", \"fortran_order\": False, \"shape\": (2L,)}",
        ),
    ] {
        let mut v = b"\x93NUMPY".to_vec();
        v.extend_from_slice(&[major, 0]);
        v.extend_from_slice(&(text.len() as u32 + 1).to_le_bytes());
        v.extend_from_slice(text.as_bytes());
        v.push(b'\n');
        v.extend_from_slice(&[1, 2, 3, 4]);
        let a = NpyArray::from_npy(v.into()).unwrap();
        assert_eq!(a.shape, vec![2]);
        assert_eq!(a.data.as_ref(), &[1, 2, 3, 4]);
    }
}

#[test]
fn scalars_empty_and_complex() {
    let s = NpyArray::from_vec(
        vec![],
        &[Complex {
            re: 1.5f64,
            im: -2.0,
        }],
    )
    .unwrap();
    assert_eq!(
        roundtrip(&s).to_vec::<Complex<f64>>().unwrap(),
        vec![Complex { re: 1.5, im: -2.0 }]
    );
    assert_eq!(s.describe(), "complex128 ()");
    let e = NpyArray::from_vec::<f32>(vec![0, 5], &[]).unwrap();
    assert_eq!(roundtrip(&e).describe(), "float32 (0, 5)");
    let b = NpyArray::from_vec(vec![3], &[true, false, true])
        .unwrap()
        .with_endian(Endian::Big);
    assert_eq!(
        roundtrip(&b).to_vec::<bool>().unwrap(),
        vec![true, false, true]
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let good = NpyArray::from_vec(vec![4], &[1u16, 2, 3, 4])
        .unwrap()
        .to_npy();
    for cut in 0..good.len() {
        assert!(
            NpyArray::from_npy(Bytes::copy_from_slice(&good[..cut])).is_err(),
            "cut {cut}"
        );
    }
    let mut extra = good.clone();
    extra.push(0);
    assert!(NpyArray::from_npy(extra.into()).is_err());
    let huge = b"\x93NUMPY\x01\x00\x40\x00{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999), }   \n";
    assert!(NpyArray::from_npy(Bytes::from_static(huge)).is_err());
    let mut rng_state = 0x1234_5678u64;
    for _ in 0..2000 {
        let mut v = good.clone();
        for _ in 0..4 {
            rng_state = rng_state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (rng_state >> 33) as usize % v.len();
            v[i] = (rng_state >> 20) as u8;
        }
        let _ = NpyArray::from_npy(v.into());
    }
}
