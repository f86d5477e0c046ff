// Compress a file in 1 MiB blocks with the C libsnappy, five times; print MB/s of input (the
// C half of benches/snappy_c_vs_snap.sh; examples/snap_throughput.rs is the Rust half).
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb"); fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    char *in = malloc(n); if (fread(in, 1, n, f) != (size_t)n) return 1;
    size_t block = 1 << 20; char *out = malloc(snappy_max_compressed_length(block));
    for (int rep = 0; rep < 5; rep++) {
        struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a); size_t total = 0;
        for (long off = 0; off < n; off += block) {
            size_t len = (n - off) < (long)block ? (size_t)(n - off) : block, olen = snappy_max_compressed_length(block);
            snappy_compress(in + off, len, out, &olen); total += olen;
        }
        clock_gettime(CLOCK_MONOTONIC, &b); double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
        printf("C libsnappy: %.0f MB/s (%.1f MB -> %.1f MB)\n", n / s / 1e6, n / 1e6, total / 1e6);
    }
    return 0;
}
