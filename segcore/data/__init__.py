"""Data I/O: formats, datasets and splits, the doctor, safe zip import, tf.data, demo data."""

from segcore.data.classes import IGNORE_LABEL, ClassMap
from segcore.data.dataset import Dataset, Sample, load_dataset

__all__ = ["IGNORE_LABEL", "ClassMap", "Dataset", "Sample", "load_dataset"]
