"""segcore: the library behind the segmentation dashboard (no Streamlit imports here)."""

__version__ = "0.1.0"
