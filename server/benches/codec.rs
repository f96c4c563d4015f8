//! The codec: decoding pipelined small commands, decoding one 128 MiB bulk arriving in 64 KiB
//! reads, and encoding replies. The decoders are also run on `redis-protocol` (a general RESP
//! codec crate) with the same input, the figure behind docs/codec.md.

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use redis_protocol::resp2::decode::decode_bytes_mut;
use respd::resp::{Limits, Out, Reply, RequestParser};
use std::hint::black_box;

const READ: usize = 64 * 1024;

/// `n` pipelined commands alternating SET key:NNNN abc and GET key:NNNN.
fn pipelined(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        let key = format!("key:{:04}", i % 10_000);
        if i % 2 == 0 {
            v.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nabc\r\n",
                    key.len()
                )
                .as_bytes(),
            );
        } else {
            v.extend_from_slice(
                format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
            );
        }
    }
    v
}

/// SET key <len bytes>, as a client sends it.
fn big_set(len: usize) -> Vec<u8> {
    let mut v = format!("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n${len}\r\n").into_bytes();
    v.extend((0..len).map(|i| (i % 251) as u8));
    v.extend_from_slice(b"\r\n");
    v
}

/// Feeds `input` to our parser the way the connection does: each read fills at most 64 KiB of
/// `read_target()`'s room. Returns the number of commands and the bytes of their arguments.
fn ours(input: &[u8]) -> (usize, usize) {
    let limits = Limits::default();
    let mut p = RequestParser::new();
    let (mut pos, mut cmds, mut bytes) = (0, 0, 0);
    while pos < input.len() {
        let t = p.read_target();
        // What a socket read (`read_buf`) would fill: the room there is now.
        let room = t.chunk_mut().len().min(t.remaining_mut());
        let n = room.clamp(1, READ).min(input.len() - pos);
        t.put_slice(&input[pos..pos + n]);
        pos += n;
        while let Ok(Some(args)) = p.next_command(&limits, false) {
            cmds += 1;
            bytes += args.iter().map(Bytes::len).sum::<usize>();
        }
    }
    (cmds, bytes)
}

/// The same through `redis-protocol`, fed 64 KiB reads into a growing `BytesMut` and decoded
/// after each read, as a `tokio_util` codec would.
fn theirs(input: &[u8]) -> (usize, usize) {
    let mut buf = BytesMut::with_capacity(READ);
    let (mut pos, mut cmds, mut bytes) = (0, 0, 0);
    while pos < input.len() {
        let n = READ.min(input.len() - pos);
        buf.extend_from_slice(&input[pos..pos + n]);
        pos += n;
        while let Ok(Some((frame, _, _))) = decode_bytes_mut(&mut buf) {
            cmds += 1;
            if let redis_protocol::resp2::types::BytesFrame::Array(items) = frame {
                for f in items {
                    if let redis_protocol::resp2::types::BytesFrame::BulkString(b) = f {
                        bytes += b.len();
                    }
                }
            }
        }
    }
    (cmds, bytes)
}

fn decode_small(c: &mut Criterion) {
    let n = 10_000;
    let input = pipelined(n);
    let expect = ours(&input);
    assert_eq!(expect.0, n);
    assert_eq!(theirs(&input), expect);
    let mut g = c.benchmark_group("decode_pipelined_small");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("respd", |b| b.iter(|| black_box(ours(black_box(&input)))));
    g.bench_function("redis-protocol", |b| {
        b.iter(|| black_box(theirs(black_box(&input))))
    });
    g.finish();
}

fn decode_big(c: &mut Criterion) {
    let len = 128 << 20;
    let input = big_set(len);
    assert_eq!(ours(&input), (1, len + 6));
    assert_eq!(theirs(&input), (1, len + 6));
    let mut g = c.benchmark_group("decode_128MiB_bulk_in_64KiB_reads");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("respd", |b| b.iter(|| black_box(ours(black_box(&input)))));
    g.bench_function("redis-protocol", |b| {
        b.iter(|| black_box(theirs(black_box(&input))))
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_replies");
    let small: Vec<Reply> = (0..1000)
        .map(|i| match i % 4 {
            0 => Reply::Ok,
            1 => Reply::Int(i),
            2 => Reply::Bulk(Bytes::from_static(b"abc")),
            _ => Reply::Nil,
        })
        .collect();
    let array = vec![Reply::Array(
        (0..100)
            .map(|i| Reply::Bulk(Bytes::from(format!("member:{i}"))))
            .collect(),
    )];
    let big = vec![Reply::Bulk(Bytes::from(vec![7u8; 128 << 20]))];
    for (name, replies) in [
        ("1000_small", &small),
        ("array_of_100", &array),
        ("bulk_128MiB", &big),
    ] {
        let mut check = Out::new();
        for r in replies {
            check.push(r, 2);
        }
        assert!(!check.is_empty());
        g.throughput(Throughput::Elements(replies.len() as u64));
        for resp in [2u8, 3] {
            g.bench_with_input(
                BenchmarkId::new(name, format!("resp{resp}")),
                replies,
                |b, rs| {
                    b.iter(|| {
                        let mut out = Out::new();
                        for r in rs {
                            out.push(r, resp);
                        }
                        black_box(out.len())
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, decode_small, decode_big, encode);
criterion_main!(benches);
