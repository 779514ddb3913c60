"""Benchmarks: `python -m bench {throughput,quality,tiling,peers,all}`; see bench/RESULTS.md."""
