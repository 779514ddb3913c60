"""The Label page's caches and small pictures (kept apart so the page stays about its flow)."""

import streamlit as st

from segcore.inference import RunPredictor


@st.cache_resource(max_entries=2, show_spinner="Loading the run's model…")
def predictor(path, mtime):
    return RunPredictor(path)


def image_of(path, mtime, read):
    """The image being labelled, read once per file version (a 4096 px image takes a while)."""
    cached = st.session_state.get("label_image_cache")
    if cached is None or cached[0] != (path, mtime):
        cached = ((path, mtime), read(path))
        st.session_state["label_image_cache"] = cached
    return cached[1]


def probabilities(model, path):
    """A run's class probabilities for the image, kept for the session's last few images."""
    from segcore.uncertainty import run_probabilities

    cache = st.session_state.setdefault("label_probabilities", {})
    key = (str(model.run_dir), path)
    if key not in cache:
        with st.spinner("Measuring the run's uncertainty…"):
            # Read as the run reads (its bands, not the picture shown).
            cache[key] = run_probabilities(model, model.read(path, compact=True))
        while len(cache) > 8:
            cache.pop(next(iter(cache)))
    return cache[key]


def ranking(run, entries):
    """[(relative path, mean entropy)] of unlabelled images, most uncertain first; kept in the
    session per run."""
    from segcore.uncertainty import rank_images, run_probabilities

    best = run.path / "best.keras"
    model = predictor(str(run.path), best.stat().st_mtime if best.exists() else 0.0)
    by_path = {e.image: e.relative for e in entries}
    with st.spinner(f"Ranking {len(entries)} images by {run.label}'s uncertainty…"):
        ranked = rank_images(list(by_path), lambda image: run_probabilities(model, image),
                             read=lambda path: model.read(path, compact=True))
    result = [(by_path[path], score) for path, score in ranked]
    st.session_state.setdefault("label_ranked", {})[run.run_id] = result
    return result


def hex_colour(rgb, alpha=None):
    """'#rrggbb', or 'rgba(r, g, b, a)' with an alpha."""
    r, g, b = (int(c) for c in rgb)
    return f"rgba({r}, {g}, {b}, {alpha})" if alpha is not None else f"#{r:02x}{g:02x}{b:02x}"


def class_legend(class_map):
    """HTML: each class's colour swatch and name (void too, when it has a colour)."""
    from html import escape

    items = list(zip(class_map.names, class_map.colors))
    if class_map.void_color is not None or class_map.ignore_value is not None:
        items.append(("void", class_map.void_color or (0, 0, 0)))
    return " ".join(
        f'<span style="white-space:nowrap;margin-right:0.8em"><span style="display:inline-block;'
        f'width:0.9em;height:0.9em;background:{hex_colour(c)};border:1px solid #888;'
        f'vertical-align:middle"></span> {escape(n)}</span>' for n, c in items)


def label_link(where, run, sample):
    """A link that opens `sample` of `run`'s dataset in the Label page (Results' worst images).

    Only the workspace's own datasets are edited there; another folder gets a caption saying so.
    """
    from pathlib import Path

    from app_pages.common import workspace
    from segcore.workspace import datasets_dir

    root = Path(run.config["config"]["data"]).resolve()
    if root.parent != datasets_dir(workspace()).resolve():
        where.caption(f"{root} is not a workspace dataset: import it on the Data page to "
                      "correct its masks in Label.")
        return
    from urllib.parse import urlencode

    from streamlit.errors import StreamlitPageNotFoundError

    query = {"dataset": root.name, "run": run.run_id,
             "image": str(Path(sample.image).resolve().relative_to(root))}
    try:
        where.page_link("app_pages/label.py", label="Correct this mask", icon=":material/brush:",
                        query_params=query)
    except StreamlitPageNotFoundError:
        # The page runs outside app.py's navigation (AppTest opens page files alone): a plain
        # link to the same address still opens the painter there.
        where.markdown(f"[Correct this mask](/label?{urlencode(query)})")


def unlabelled_uploader(root):
    """*Add unlabelled images*: uploads images without masks into `root/unlabelled/` (the Label
    page and the Data page)."""
    from app_pages.common import flash
    from segcore.data.uploads import add_unlabelled
    from segcore.errors import SegcoreError

    with st.expander("Add unlabelled images"):
        files = st.file_uploader("Images without masks (they go to unlabelled/, to label on the "
                                 "Label page)", accept_multiple_files=True, key="label_upload")
        if st.button("Add them", key="label_upload_add", disabled=not files):
            try:
                added = add_unlabelled([(f.name, f.getvalue()) for f in files], root)
            except SegcoreError as error:
                st.error(str(error))
                return
            flash(f"Added {len(added)} image{'s' if len(added) != 1 else ''} to "
                  f"{root.name}/unlabelled/.")
            st.rerun()
