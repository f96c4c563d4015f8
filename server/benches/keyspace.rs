//! The keyspace: GET and SET through the shard locks on a populated database.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use respd::keyspace::{Keyspace, Value};
use std::hint::black_box;

const KEYS: usize = 100_000;

fn keys() -> Vec<Bytes> {
    (0..KEYS)
        .map(|i| Bytes::from(format!("key:{i:06}")))
        .collect()
}

fn populated(keys: &[Bytes]) -> Keyspace {
    let ks = Keyspace::new(16);
    let value = Bytes::from_static(b"0123456789abcdef");
    for k in keys {
        let mut l = ks.lock_keys(0, &[k]);
        l.view(0).set(k, Value::Str(value.clone()), None);
    }
    ks
}

fn get_set(c: &mut Criterion) {
    let keys = keys();
    let ks = populated(&keys);
    {
        let mut l = ks.lock_keys(0, &[&keys[7]]);
        assert!(
            l.view(0).get(&keys[7]).is_some(),
            "populated key must be found"
        );
    }
    let mut g = c.benchmark_group("keyspace");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("get_hit_100k_keys", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let k = &keys[i];
            let mut l = ks.lock_keys(0, &[k]);
            let v = match l.view(0).get(k).map(|e| &e.value) {
                Some(Value::Str(s)) => s.len(),
                _ => 0,
            };
            black_box(v)
        })
    });
    let value = Bytes::from_static(b"fedcba9876543210");
    g.bench_function("set_existing_100k_keys", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let k = &keys[i];
            let mut l = ks.lock_keys(0, &[k]);
            l.view(0).set(k, Value::Str(value.clone()), None);
        })
    });
    g.finish();
}

criterion_group!(benches, get_set);
criterion_main!(benches);
