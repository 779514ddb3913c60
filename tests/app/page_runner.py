"""Opens a page file under AppTest with a timeout fit for TensorFlow start-up, and finds the
Train page's settings widgets by key."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def page(name):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(REPO / "app_pages" / f"{name}.py"), default_timeout=120)


# The AppTest element lists a settings widget may be drawn in (segcore.widget.Widget kinds).
WIDGET_KINDS = ("slider", "select_slider", "selectbox", "checkbox", "number_input",
                "multiselect")


def widget(at, key):
    """The element of any kind drawn under `key`."""
    for kind in WIDGET_KINDS:
        found = [w for w in getattr(at, kind) if w.key == key]
        if found:
            return found[0]
    raise AssertionError(f"no widget with key {key!r}")


def widget_keys(at):
    """The keys of every settings widget drawn."""
    return {w.key for kind in WIDGET_KINDS for w in getattr(at, kind)}
