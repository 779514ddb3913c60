"""segcore: the library behind the segmentation dashboard (no Streamlit imports here)."""

import os

__version__ = "0.1.0"

# TensorFlow's oneDNN kernels, unless the environment says otherwise. TensorFlow turns them on
# by itself only on CPUs with AVX512-VNNI, AVX512-BF16 or AMX; on an AVX2 CPU (AMD Zen 2) they
# train ReSeg and U-Net 1.77-1.95x faster than TensorFlow's own kernels (bench/RESULTS.md,
# `python -m bench kernels`). Read when TensorFlow is imported, which segcore does lazily, after
# this; `TF_ENABLE_ONEDNN_OPTS=0` keeps TensorFlow's own kernels.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
