"""Opens a page file under AppTest with a timeout fit for TensorFlow start-up."""

import os


def page(name):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(os.path.join("pages", f"{name}.py"), default_timeout=120)
