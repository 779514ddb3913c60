"""The Label page's pickers: the dataset, the run that helps, and the image, with what a page
switch would make them forget."""

import streamlit as st

from app_pages.common import (
    current_dataset,
    dataset_names,
    fail,
    finished_runs,
    in_url,
    set_dataset,
    set_run,
)
from app_pages.label_help import ranking
from segcore.data.classes import ClassMap
from segcore.errors import SegcoreError
from segcore.labelling.prefill import fits_classes


def pick_dataset():
    names = dataset_names()
    name = current_dataset()
    chosen = st.selectbox("Dataset", names, index=names.index(name), key="label_dataset")
    if chosen != name:
        set_dataset(chosen)
        st.rerun()
    return chosen


def pick_run(class_map):
    """The run that pre-fills and ranks: only runs trained on the dataset's classes are
    offered (another's labels would mean other classes); the current run is picked first."""
    offered, others = [], 0
    for run in finished_runs():
        try:
            fits = fits_classes(ClassMap.from_json(run.config["class_map"]), class_map)
        except SegcoreError:
            fits = False
        if fits:
            offered.append(run)
        else:
            others += 1
    labels = {r.run_id: r.label for r in offered}
    # "" is the choice of no run: a selectbox whose value is None shows no choice at all.
    options = [""] + [r.run_id for r in offered]
    if st.session_state.get("label_run") not in options:
        wanted = st.query_params.get("run")
        st.session_state["label_run"] = wanted if wanted in options else ""
    run_id = st.selectbox(
        "Run (pre-fills and ranks by its uncertainty)", options, key="label_run",
        format_func=lambda r: labels.get(r, r) or "none",
        # A run picked here becomes the place's run, as on the other pages.
        on_change=lambda: st.session_state["label_run"] and set_run(st.session_state["label_run"]))
    if others:
        st.caption(f"{others} run{'s' if others > 1 else ''} trained on other classes "
                   "not offered.")
    return next((r for r in offered if r.run_id == run_id), None)


# The page's widget keys: a page switch drops their state (Streamlit forgets the widgets a
# page run does not draw), so the session keeps a copy per dataset to come back to.
KEPT_WIDGETS = ("label_run", "label_image", "label_start", "label_tool", "label_class",
                "label_erase_to", "label_brush", "label_opacity", "label_zoom")


def recall_pickers(name):
    """Brings back the run, image, start and tool settings this tab had on dataset `name`."""
    kept = st.session_state.get("label_kept") or {}
    if kept.get("dataset") == name:
        for key in KEPT_WIDGETS:
            if key not in st.session_state and key in kept:
                st.session_state[key] = kept[key]


def keep_pickers(name):
    """Copies the page's widget values (called once they are all drawn)."""
    st.session_state["label_kept"] = {"dataset": name, **{
        key: st.session_state[key] for key in KEPT_WIDGETS if key in st.session_state}}


def pick_image(entries, run, class_map):
    """The image to label: ranked unlabelled ones first when the run ranked them."""
    follow = st.session_state.pop("label_follow", None)
    if follow is not None:
        st.session_state["label_image"], st.session_state["label_start"] = follow, "mask"
    scores = {}
    if run is not None and any(not e.labelled for e in entries):
        if st.button("Rank unlabelled images by the run's uncertainty", key="label_rank"):
            try:
                ranked = ranking(run, [e for e in entries if not e.labelled])
            except SegcoreError as error:
                fail(error)
            st.session_state["label_image"] = ranked[0][0]  # the top one opens...
            st.session_state["label_start"] = "prediction"  # ...pre-filled with the prediction
        scores = dict(st.session_state.get("label_ranked", {}).get(run.run_id, []))
    by_name = {e.relative: e for e in entries}
    unlabelled = sorted((e.relative for e in entries if not e.labelled),
                        key=lambda r: -scores.get(r, -1))
    order = unlabelled + [e.relative for e in entries if e.labelled]
    asked = st.query_params.get("image")
    if asked in by_name and st.session_state.get("label_asked") != asked:
        st.session_state["label_asked"] = asked  # a link from Results opens its image once
        st.session_state["label_image"] = asked
    if st.session_state.get("label_image") not in by_name:
        st.session_state["label_image"] = order[0]

    def describe(relative):
        if relative in scores:
            return f"{relative} · uncertainty {scores[relative]:.3f}"
        return relative + ("" if by_name[relative].labelled else " · no mask yet")

    relative = st.selectbox(f"Image ({len(unlabelled)} unlabelled, "
                            f"{len(order) - len(unlabelled)} labelled)", order,
                            format_func=describe, key="label_image")
    # What this page puts in the URL is not a request to open an image: only a URL that
    # differs (a link from Results, a pasted address) picks the image above.
    st.session_state["label_asked"] = relative
    in_url("image", relative)
    return by_name[relative]
