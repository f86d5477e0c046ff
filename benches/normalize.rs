//! Throughput of the input contract: raw JSONL line → typed record (the parse half of ingest).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wxlake::normalize::{Line, normalize_line};

mod lines;

fn bench_normalize(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalize");
    for (name, big, n) in [("short", false, 20_000), ("app_xml", true, 1_000)] {
        let data = lines::lines(n, big);
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut records = 0;
                for line in data.split(|&b| b == b'\n') {
                    if let Line::Record(r) = normalize_line(black_box(line)) {
                        records += usize::from(!r.record.msg_id.is_empty());
                    }
                }
                assert_eq!(records, n);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_normalize);
criterion_main!(benches);
