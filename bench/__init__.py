"""Benchmarks: `python -m bench {throughput,quality,tiling,peers,all}`; see bench/RESULTS.md."""

# segcore's settings for TensorFlow (its oneDNN kernels) hold only if they are made before
# TensorFlow is imported, which several benchmarks do before they reach segcore.
import segcore  # noqa: F401
