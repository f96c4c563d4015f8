//! The library against both servers.

use std::time::Duration;

use respd_client::{
    AsyncClient, Bundle, Client, DType, Endian, Error, KeyInfo, Namespace, NpyArray, Order, Target,
};

use super::servers::{both, redis_server, respd};

fn client(url: &str) -> Client {
    Client::connect(url).expect("connect")
}

#[test]
fn bytes_round_trip_and_typed_errors() {
    for (name, s) in both() {
        let mut c = client(&s.url);
        assert_eq!(c.ping().unwrap(), "PONG");
        c.put(b"k", b"hello").unwrap();
        assert_eq!(c.get(b"k").unwrap(), b"hello", "{name}");
        assert!(
            matches!(c.get(b"missing"), Err(Error::NotFound(k)) if k == "missing"),
            "{name}"
        );
        assert!(
            matches!(c.get_array(b"k"), Err(Error::WrongType { .. })),
            "{name}"
        );
        assert_eq!(
            c.info(b"k").unwrap(),
            KeyInfo::Other {
                redis_type: "string".into(),
                size: 5
            }
        );
        assert!(matches!(c.info(b"missing"), Err(Error::NotFound(_))));
        assert!(c.delete(b"k").unwrap());
        assert!(!c.delete(b"k").unwrap());
    }
}

#[test]
fn wrong_type_from_server() {
    let Some(s) = redis_server() else { return };
    let mut c = client(&s.url);
    redis::cmd("RPUSH")
        .arg("l")
        .arg("x")
        .exec(c.connection())
        .unwrap();
    assert!(matches!(c.get(b"l"), Err(Error::WrongType { key, .. }) if key == "l"));
    assert_eq!(c.info(b"l").unwrap().to_string(), "list (1 elements)");
}

#[test]
fn unreachable_server_is_a_connection_error() {
    let port = super::servers::free_port();
    let r = Client::connect(&format!("redis://127.0.0.1:{port}"));
    match r {
        Err(e @ Error::Connection { .. }) => {
            // The message names the server; the socket's own words stay in the source chain.
            assert_eq!(
                e.to_string(),
                format!("could not connect to 127.0.0.1:{port}")
            );
            let src = std::error::Error::source(&e).map(|s| s.to_string());
            assert!(
                src.is_some_and(|s| s.to_lowercase().contains("refused")),
                "{e:?}"
            );
        }
        other => panic!("expected a connection error, got {:?}", other.err()),
    }
}

#[test]
fn every_dtype_and_order_round_trips() {
    for (name, s) in both() {
        let mut c = client(&s.url);
        for dt in DType::ALL {
            let n = 6 * dt.size();
            let data: Vec<u8> = (0..n)
                .map(|i| {
                    if dt == DType::Bool {
                        (i % 2) as u8
                    } else {
                        i as u8
                    }
                })
                .collect();
            let a =
                NpyArray::from_raw(dt, Endian::Little, Order::C, vec![2, 3], data.into()).unwrap();
            for order in [Order::C, Order::Fortran] {
                for endian in [Endian::Little, Endian::Big] {
                    let b = a.with_order(order).with_endian(endian);
                    c.put_array(b"arr", &b).unwrap();
                    assert_eq!(
                        c.get_array(b"arr").unwrap(),
                        b,
                        "{name} {dt:?} {order:?} {endian:?}"
                    );
                    let info = c.info(b"arr").unwrap().to_string();
                    assert!(
                        info.starts_with(&format!("{} (2, 3) (", dt.name())),
                        "{info}"
                    );
                }
            }
        }
    }
}

#[test]
fn chunked_values_reassemble_and_retire_old_chunks() {
    for (name, s) in both() {
        let mut t = Target::from_url(&s.url).unwrap();
        t.chunk_size = Some(1000);
        t.grace = Duration::from_secs(30);
        let mut c = Client::open(t).unwrap();
        let v1: Vec<u8> = (0..10_500u32).map(|i| (i % 251) as u8).collect();
        c.put(b"big", &v1).unwrap();
        assert_eq!(c.get(b"big").unwrap(), v1, "{name}");
        assert_eq!(
            c.info(b"big").unwrap(),
            KeyInfo::Chunked {
                size: 10_500,
                chunks: 11
            }
        );
        assert_eq!(
            c.list(b"big").unwrap(),
            vec![b"big".to_vec()],
            "chunk keys are hidden"
        );
        // A chunked array says its dtype and shape.
        let a = NpyArray::from_vec(
            vec![50, 40],
            &(0..2000).map(|x| x as f64).collect::<Vec<_>>(),
        )
        .unwrap();
        c.put_array(b"arr", &a).unwrap();
        assert_eq!(c.get_array(b"arr").unwrap(), a);
        assert!(c
            .info(b"arr")
            .unwrap()
            .to_string()
            .starts_with("float64 (50, 40) (16128 bytes, npy, chunked in 17 parts)"));
        // Rewriting leaves the old chunks readable for the grace period only.
        let old: Vec<Vec<u8>> = scan(&mut c, b"big\0chunk\0*");
        assert_eq!(old.len(), 11);
        c.put(b"big", b"small now").unwrap();
        assert_eq!(c.get(b"big").unwrap(), b"small now");
        for k in &old {
            let ttl: i64 = redis::cmd("PTTL").arg(k).query(c.connection()).unwrap();
            assert!(ttl > 0 && ttl <= 30_000, "{name}: old chunk ttl {ttl}");
        }
        // Deleting a chunked value deletes its chunks.
        c.delete(b"arr").unwrap();
        assert!(scan(&mut c, b"arr*").is_empty());
        let n = c.delete_prefix(b"").unwrap();
        assert!(n >= 12, "{name}: {n}");
        let size: u64 = redis::cmd("DBSIZE").query(c.connection()).unwrap();
        assert_eq!(size, 0, "{name}");
    }
}

fn scan(c: &mut Client, pattern: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .query(c.connection())
            .unwrap();
        out.extend(keys);
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

#[test]
fn namespaces_list_and_delete_exactly_their_keys() {
    for (name, s) in both() {
        let mut c = client(&s.url);
        let spaces = [
            Namespace::new(["exp", "run"]),
            Namespace::new(["exp:run"]),
            Namespace::new(["exp", "run2"]),
            Namespace::new(["e*p", "r?n[1]\\"]),
            Namespace::new(["exp", "run", "det"]),
        ];
        for ns in &spaces {
            for n in ["a", "b:c", "%3A"] {
                c.put(ns.key(n).as_bytes(), ns.key(n).as_bytes()).unwrap();
            }
        }
        let mut listed = c.list(spaces[0].prefix().as_bytes()).unwrap();
        listed.sort();
        let mut want: Vec<Vec<u8>> = [&spaces[0], &spaces[4]]
            .iter()
            .flat_map(|ns| ["a", "b:c", "%3A"].map(|n| ns.key(n).into_bytes()))
            .collect();
        want.sort();
        assert_eq!(listed, want, "{name}");
        assert_eq!(
            c.list(spaces[3].prefix().as_bytes()).unwrap().len(),
            3,
            "{name}: glob characters escaped"
        );
        assert_eq!(c.delete_prefix(spaces[1].prefix().as_bytes()).unwrap(), 3);
        assert_eq!(
            c.get(spaces[0].key("a").as_bytes()).unwrap(),
            spaces[0].key("a").as_bytes()
        );
        c.delete_prefix(b"").unwrap();
    }
}

#[test]
fn bundles_round_trip() {
    let s = respd();
    let mut c = client(&s.url);
    let counts = NpyArray::from_vec(vec![3], &[1i64, 5, 2]).unwrap();
    let h = Bundle::histogram(counts, vec![vec![0.0, 1.0, 2.0, 3.0]])
        .unwrap()
        .attr("title", "t");
    c.put_bundle(b"h", &h).unwrap();
    assert_eq!(c.get_bundle(b"h").unwrap(), h);
    assert_eq!(
        c.info(b"h").unwrap().to_string().split(' ').next(),
        Some("histogram")
    );
}

#[test]
fn concurrent_rewrite_reader_sees_old_or_new_never_a_mix() {
    let s = respd();
    let url = s.url.clone();
    let mut t = Target::from_url(&url).unwrap();
    t.chunk_size = Some(4096);
    let mut w = Client::open(t.clone()).unwrap();
    let len = 40_000;
    w.put(b"v", &vec![b'a'; len]).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut n = 0u32;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) && n < 2000 {
            let b = if n % 2 == 0 { b'b' } else { b'a' };
            w.put(b"v", &vec![b; len + (n as usize % 3)]).unwrap();
            n += 1;
        }
        n
    });
    let mut r = Client::open(t).unwrap();
    let mut seen = [0u32; 2];
    for _ in 0..300 {
        let v = r.get(b"v").unwrap();
        let first = v[0];
        assert!(v.iter().all(|&b| b == first), "mixed value read");
        assert!(v.len() >= len && v.len() < len + 3);
        seen[(first == b'b') as usize] += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().unwrap();
    assert!(writes > 2, "writer made progress");
    eprintln!(
        "reads of a: {}, of b: {}, writes: {writes}",
        seen[0], seen[1]
    );
}

#[test]
fn async_client_round_trips() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (name, s) in both() {
        rt.block_on(async {
            let mut c = AsyncClient::connect(&s.url).await.unwrap();
            assert_eq!(c.ping().await.unwrap(), "PONG");
            c.set_chunk_size(1000);
            let v: Vec<u8> = (0..5555u32).map(|i| i as u8).collect();
            c.put(b"x", &v).await.unwrap();
            assert_eq!(c.get(b"x").await.unwrap(), v, "{name}");
            assert_eq!(
                c.info(b"x").await.unwrap(),
                KeyInfo::Chunked {
                    size: 5555,
                    chunks: 6
                }
            );
            let a = NpyArray::from_vec(vec![2], &[1.5f32, 2.5]).unwrap();
            c.put_array(b"a", &a).await.unwrap();
            assert_eq!(c.get_array(b"a").await.unwrap(), a);
            assert_eq!(
                c.list(b"").await.unwrap(),
                vec![b"a".to_vec(), b"x".to_vec()]
            );
            assert!(matches!(c.get(b"nope").await, Err(Error::NotFound(_))));
            assert!(c.delete(b"x").await.unwrap());
            // delete_prefix exists on the async face too, chunks included.
            c.put(b"run7:img", &v).await.unwrap();
            c.put(b"run7:h", b"small").await.unwrap();
            assert_eq!(c.delete_prefix(b"run7:").await.unwrap(), 8, "{name}");
            assert_eq!(c.list(b"").await.unwrap(), vec![b"a".to_vec()], "{name}");
        });
    }
}

fn pubsub_round_trip(url: &str) -> Result<(), Error> {
    let t = Target::from_url(url).unwrap();
    let mut sub = respd_client::Subscription::open(&t, &[b"ch"])?;
    let mut c = client(url);
    let a = NpyArray::from_vec(vec![2], &[7u16, 8]).unwrap();
    assert_eq!(c.publish_array(b"ch", &a)?, 1);
    c.publish(b"ch", b"raw")?;
    let m = sub.next(Some(Duration::from_secs(5)))?.expect("message");
    assert_eq!(m.channel.as_ref(), b"ch");
    assert_eq!(m.array()?, a);
    assert_eq!(
        sub.next(Some(Duration::from_secs(5)))?
            .expect("message")
            .payload
            .as_ref(),
        b"raw"
    );
    assert!(sub.next(Some(Duration::from_millis(50)))?.is_none());
    // The async stream.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use futures_util::StreamExt;
        let mut st = Box::pin(respd_client::pubsub::subscribe(&t, &[b"ch2"]).await?);
        let mut p = AsyncClient::connect(url).await?;
        p.publish(b"ch2", b"hello").await?;
        let m = tokio::time::timeout(Duration::from_secs(5), st.next())
            .await
            .expect("in time")
            .expect("message");
        assert_eq!(m.payload.as_ref(), b"hello");
        Ok(())
    })
}

#[test]
fn pubsub_against_redis_server() {
    let Some(s) = redis_server() else { return };
    pubsub_round_trip(&s.url).unwrap();
}

#[test]
fn pubsub_against_respd() {
    let s = respd();
    pubsub_round_trip(&s.url).unwrap();
}
