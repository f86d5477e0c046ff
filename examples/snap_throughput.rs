//! Compress a file in 1 MiB blocks with the `snap` crate, the Snappy of parquet's writer, five
//! times; print the throughput (MB/s of input). `benches/snappy_c_vs_snap.sh` runs it beside the
//! same loop over the C libsnappy (`benches/snappy/snapc.c`).
//!
//! Usage: cargo run --release --example snap_throughput -- FILE

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: snap_throughput FILE");
    let data = std::fs::read(&path).expect("read the input");
    let mut encoder = snap::raw::Encoder::new();
    let block = 1 << 20;
    let mut out = vec![0u8; snap::raw::max_compress_len(block)];
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let mut total = 0;
        for chunk in data.chunks(block) {
            total += encoder.compress(chunk, &mut out).expect("compress");
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "snap crate: {:.0} MB/s ({:.1} MB -> {:.1} MB)",
            data.len() as f64 / secs / 1e6,
            data.len() as f64 / 1e6,
            total as f64 / 1e6
        );
    }
}
