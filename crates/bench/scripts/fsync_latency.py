#!/usr/bin/env python3
"""How long this disk takes to make a small write durable: the cost SQLite pays once per
group commit with `synchronous = FULL` (one WAL fsync per batch).

Usage: python3 crates/bench/scripts/fsync_latency.py [DIR] [SECONDS]
Writes 4 KiB at the end of a file in DIR (default: the system's temporary directory, the
disk the benchmark's databases live on) and syncs it, in a loop, for SECONDS (default 5);
prints the count, mean, p50, p99 and max of fsync and of fdatasync.
"""
import os
import sys
import tempfile
import time


def measure(path, sync, seconds):
    block = os.urandom(4096)
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            os.write(fd, block)
            start = time.perf_counter()
            sync(fd)
            samples.append(time.perf_counter() - start)
    finally:
        os.close(fd)
    samples.sort()
    n = len(samples)
    ms = lambda s: f"{s * 1000:.3f} ms"
    return (f"{n} syncs, mean {ms(sum(samples) / n)}, p50 {ms(samples[n // 2])}, "
            f"p99 {ms(samples[min(n - 1, n * 99 // 100)])}, max {ms(samples[-1])}")


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.gettempdir()
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    with tempfile.TemporaryDirectory(dir=directory) as d:
        path = os.path.join(d, "fsync-probe")
        print(f"fsync     in {directory}: {measure(path, os.fsync, seconds)}")
        print(f"fdatasync in {directory}: {measure(path, os.fdatasync, seconds)}")


if __name__ == "__main__":
    main()
