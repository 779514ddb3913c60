"""Opens a page file under AppTest with a timeout fit for TensorFlow start-up."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def page(name):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(REPO / "app_pages" / f"{name}.py"), default_timeout=120)
