"""Benchmarks: run on demand (`make bench`), never as timed tests; each prints its figures."""
