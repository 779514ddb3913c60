"""Label page: paint and correct masks over an image, helped by a run's prediction and its
uncertainty (which unlabelled image to label next)."""

import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from app_pages.common import dataset_path, dataset_report, fail, flash, show_flash
from app_pages.label_help import (
    class_legend,
    hex_colour,
    image_of,
    predictor,
    probabilities,
    unlabelled_uploader,
)
from app_pages.label_pickers import keep_pickers, pick_dataset, pick_image, pick_run, recall_pickers
from segcore.data.band_view import shown_picture
from segcore.errors import SegcoreError
from segcore.labelling.editor import (
    TOOLS,
    Editor,
    composite,
    dataset_images,
    eraser_label,
    fit_zoom,
    pan_limits,
    view_size,
)
from segcore.labelling.maskfile import history_of
from segcore.labelling.prefill import predicted_labels, same_classes
from segcore.labelling.raster import View
from segcore.uncertainty import uncertainty_map, uncertainty_picture

STARTS = {"mask": "its saved mask", "empty": "an empty mask", "prediction": "the run's prediction"}
MODES = {"brush": "freedraw", "polygon": "polygon", "fill": "point", "eraser": "freedraw"}
ZOOMS = ("fit", 1, 2, 4, 8)


def open_editor(root, entry, run, class_map, image):
    """The session's editor for this image and start; asks before dropping unsaved edits."""
    starts = [s for s in STARTS if (s != "mask" or entry.labelled) and
              (s != "prediction" or run is not None)]
    if st.session_state.get("label_start") not in starts:
        st.session_state["label_start"] = "prediction" if (
            not entry.labelled and run is not None) else starts[0]
    start = st.radio("Start from", starts, format_func=STARTS.get, key="label_start",
                     horizontal=True)
    identity = (str(root), entry.relative, start, run.run_id if run else None)
    editor = st.session_state.get("label_editor")
    if editor is not None and st.session_state.get("label_identity") != identity:
        if editor.edited and editor.dirty:
            st.warning(f"{editor.entry.relative} has unsaved edits.")
            left, right = st.columns(2)
            if left.button("Save them", key="label_save_pending"):
                try:
                    editor.save(class_map)
                except SegcoreError as error:
                    fail(error)
                st.rerun()
            if right.button("Discard them", key="label_discard"):
                st.session_state.pop("label_editor")
                st.rerun()
            st.stop()
        editor = None
    if editor is None:
        first = None
        if start == "empty":
            first = image[..., 0] * 0
        elif start == "prediction":
            try:
                same_classes(run_predictor(run).class_map, class_map, f"Run {run.run_id}")
                first = predicted_labels(run_predictor(run), entry.image)
            except SegcoreError as error:
                fail(error)
        try:
            editor = Editor.open(root, entry, class_map, image.shape[:2], first)
        except SegcoreError as error:
            fail(error)
        st.session_state["label_editor"] = editor
        st.session_state["label_identity"] = identity
    return editor


def run_predictor(run):
    return predictor(str(run.path), (run.path / "best.keras").stat().st_mtime
                     if (run.path / "best.keras").exists() else 0.0)


def tool_settings(class_map):
    columns = st.columns([2, 2, 2, 2, 2])
    tool = columns[0].radio("Tool", TOOLS, key="label_tool", horizontal=True,
                            help="Polygon: click each corner, then the first one again to close "
                                 "the shape; a shape left open is not painted.")
    names = class_map.names
    if st.session_state.get("label_class", 0) not in range(len(names)):  # kept before a class edit
        del st.session_state["label_class"]
    index = columns[1].selectbox("Class", range(len(names)), format_func=lambda i: names[i],
                                 key="label_class")
    erase_to = columns[1].radio("Eraser paints", ("background", "void"), key="label_erase_to",
                                horizontal=True)
    # Defaults through the session: a value kept across a page switch is set there too.
    st.session_state.setdefault("label_brush", 8)
    st.session_state.setdefault("label_opacity", 0.5)
    size = columns[2].slider("Brush size (image pixels)", 1, 100, key="label_brush")
    opacity = columns[3].slider("Mask opacity", 0.0, 1.0, step=0.05, key="label_opacity")
    zoom = columns[4].selectbox("Zoom", ZOOMS, key="label_zoom",
                                format_func=lambda z: "fit" if z == "fit" else f"{z}x")
    label = index
    if tool == "eraser":
        try:
            label = eraser_label(erase_to, class_map)
        except SegcoreError as error:
            st.error(str(error))
            label = 0
    return tool, label, size, opacity, zoom


def pan(shape, zoom):
    limit_x, limit_y = pan_limits(shape, zoom)
    left, right = st.columns(2)
    x0 = left.slider("Pan across", 0, limit_x, 0, key="label_pan_x") if limit_x else 0
    y0 = right.slider("Pan down", 0, limit_y, 0, key="label_pan_y") if limit_y else 0
    return View(x0, y0, zoom)


def actions(editor, class_map):
    columns = st.columns([1, 1, 2, 4])
    if columns[0].button("Undo", key="label_undo", disabled=not editor.history.can_undo):
        editor.undo()
        st.rerun()
    if columns[1].button("Redo", key="label_redo", disabled=not editor.history.can_redo):
        editor.redo()
        st.rerun()
    if columns[2].button("Save mask", key="label_save", type="primary"):
        try:
            mask = editor.save(class_map)
        except SegcoreError as error:
            st.error(str(error))
            return
        kept = history_of(editor.opened.root, mask.stem)
        identity = st.session_state["label_identity"]
        # The image is labelled now (an unlabelled one moved into images/): the editor goes on
        # as this image opened from its saved mask; the pickers follow on the next run.
        st.session_state["label_identity"] = (identity[0], editor.entry.relative, "mask",
                                              identity[3])
        st.session_state["label_follow"] = editor.entry.relative
        flash(f"Saved {mask.relative_to(editor.opened.root)}"
              + (f"; the previous version is kept as {kept[-1].relative_to(editor.opened.root)}."
                 if kept else "."))
        st.rerun()
    columns[3].caption("Unsaved edits" if editor.edited and editor.dirty else
                       "Not saved yet: the start differs from the mask file" if editor.dirty
                       else "No unsaved edits")


def label_page() -> None:
    st.title("Label")
    show_flash()
    left, right = st.columns(2)
    with left:
        name = pick_dataset()
    recall_pickers(name)
    root = dataset_path(name)
    try:
        dataset, entries = dataset_images(root)
    except SegcoreError as error:
        fail(error)
    with right:
        run = pick_run(dataset.class_map)
    unlabelled_uploader(root)
    summary, problems = dataset_report(root)
    st.caption(f"Data doctor: {len(problems)} problems" if problems else
               "Data doctor: " + ", ".join(f"{s} {n}" for s, n in
                                           summary.get("images_per_split", {}).items())
               + f", unlabelled {summary.get('unlabelled', 0)}")
    class_map = dataset.class_map
    entry = pick_image(entries, run, class_map)
    image = image_of(str(entry.image), entry.image.stat().st_mtime, shown_picture)
    editor = open_editor(root, entry, run, class_map, image)
    tool, label, size, opacity, zoom = tool_settings(class_map)
    keep_pickers(name)
    shape = image.shape[:2]
    zoom = fit_zoom(shape) if zoom == "fit" else float(zoom)
    view = pan(shape, zoom)
    width, height = view_size(shape, zoom)
    st.markdown(class_legend(class_map), unsafe_allow_html=True)
    left, right = st.columns([3, 1])
    with left:
        colour = (class_map.void_color or (0, 0, 0)) if label == 255 else class_map.colors[label]
        background = composite(image, editor.labels, class_map, view, (width, height), opacity)
        result = st_canvas(
            stroke_width=max(1, round(size * zoom)), stroke_color=hex_colour(colour),
            fill_color=hex_colour(colour, 0.4), background_image=Image.fromarray(background),
            drawing_mode=MODES[tool], width=width, height=height, point_display_radius=2,
            key=f"label_canvas_{editor.version}_{tool}_{view.x0}_{view.y0}_{zoom:g}")
        objects = (result.json_data or {}).get("objects") or []
        if objects:
            # The canvas's anti-aliased pixels are never used: its shapes are painted into the
            # mask on the server, and a fresh canvas shows the mask as saved in memory.
            try:
                editor.paint(objects, tool, label, view)
            except SegcoreError as error:
                fail(error)
            st.rerun()
        actions(editor, class_map)
        st.caption(f"{entry.relative} · {shape[1]}x{shape[0]} · zoom {zoom:.2f}x · "
                   f"mask {editor.opened.mask.relative_to(editor.opened.root)} · "
                   f"change {editor.version}")
    with right:
        if run is not None:
            probs = probabilities(run_predictor(run), str(entry.image))
            values = uncertainty_map(probs)
            st.image(uncertainty_picture(values, shape, stretch=True), width="stretch",
                     caption=f"{run.label}'s uncertainty (entropy) · mean {values.mean():.3f}, "
                             f"from {values.min():.3f} (dark) to {values.max():.3f} (bright)")
        else:
            st.caption("Pick a run to see where it is unsure and to start from its prediction.")


label_page()
