//! Throughput of the write half of ingest: normalized rows → a sorted Snappy row group in a
//! staged Parquet file.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wxlake::lake::writer::{Codec, RowBuffer, StagedWriter, writer_properties};
use wxlake::normalize::{Line, normalize_line};
use wxlake::partition::PartitionKey;

mod lines;

fn bench_write(c: &mut Criterion) {
    let mut group = c.benchmark_group("write");
    group.sample_size(20);
    let dir = tempfile::tempdir().unwrap();
    let key = PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    for (name, big, n) in [("short", false, 20_000), ("app_xml", true, 1_000)] {
        let data = lines::lines(n, big);
        let mut buffer = RowBuffer::default();
        for line in data.split(|&b| b == b'\n') {
            if let Line::Record(r) = normalize_line(line) {
                buffer.push(&r.record);
            }
        }
        let batch = buffer.take_batch();
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let props = writer_properties(Codec::Snappy, None).unwrap();
                let mut w = StagedWriter::create(key, dir.path(), props).unwrap();
                w.write_row_group(&batch).unwrap();
                w.finish().unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_write);
criterion_main!(benches);
