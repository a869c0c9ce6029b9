"""Benchmarks: one module per scenario, each run by `kirje bench <scenario>`."""
