"""The Results page's logic: run tables, what differs between runs, and what can be compared.

Plain functions of run folders (`RunInfo`s and their metrics), tested without Streamlit.
"""

import json
import math
from pathlib import Path

from segcore.runs import ACTIVE, read_metrics


def config_differences(configs):
    """Rows of the settings that differ between runs: {setting: {run: value}}."""
    flat = {run: _flatten(config) for run, config in configs.items()}
    keys = sorted(set().union(*(f.keys() for f in flat.values()))) if flat else []
    differing = {}
    for key in keys:
        values = {run: f.get(key) for run, f in flat.items()}
        if len({repr(v) for v in values.values()}) > 1:
            differing[key] = values
    return differing


def _flatten(data, prefix=""):
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def setting_text(value):
    """A setting as the user typed it: 4 (not 4.0), 0.001, 32x32, "—" for unset.

    A table of settings mixes ints and floats in one column; pandas would make them all
    floats ("4.0"), so every cell is text before it reaches a table.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return f"{value[0]}x{value[1]}"  # a size, HxW
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def differences_rows(differences):
    """`config_differences` as text: {setting: {run: text}} (a table's rows)."""
    return {key: {run: setting_text(v) for run, v in values.items()}
            for key, values in differences.items()}


def dataset_name(run):
    """The name of the dataset folder a run trained on ("" when its config is damaged)."""
    data = run.config.get("config", {}).get("data")
    return Path(data).name if data else ""


def class_names(run):
    """The class names of a run, in label order (empty before training wrote its class map)."""
    return [c["name"] for c in run.config.get("class_map", {}).get("classes", [])]


def runs_table(run_infos):
    """Rows comparing runs: id, dataset, classes, model, state, epochs done of planned, best
    validation mean IoU and minutes."""
    rows = []
    for run in run_infos:
        epochs, _ = read_metrics(run.path)
        config = run.config.get("config", {})
        best = run.status.get("best_mean_iou")
        rows.append({
            "run": run.run_id, "dataset": dataset_name(run), "classes": len(class_names(run)),
            "model": config.get("model"), "state": run.state,
            "epochs": f"{len(epochs)}/{config.get('epochs')}",
            "best val mean IoU": None if best is None or best < 0 else round(best, 4),
            "minutes": round(sum(e.get("seconds", 0) for e in epochs) / 60, 2),
        })
    return rows


def best_epoch(records):
    """The epoch record with the highest validation mean IoU (None when there is none)."""
    scored = [r for r in records
              if r.get("val_mean_iou") is not None and not math.isnan(r["val_mean_iou"])]
    return max(scored, key=lambda r: r["val_mean_iou"]) if scored else None


def comparison_notes(run_infos):
    """Warnings about comparing runs: other datasets, a changed dataset, other classes.

    Returns:
        A list of sentences, empty when the runs trained on the same data with the same classes.
    """
    if len(run_infos) < 2:
        return []
    notes = []
    datasets = {r.run_id: r.config.get("config", {}).get("data") for r in run_infos}
    if len(set(datasets.values())) > 1:
        listed = "; ".join(f"{run}: {Path(d).name if d else '?'}" for run, d in datasets.items())
        notes.append(f"These runs trained on different datasets ({listed}): their scores come "
                     "from different validation images, so a higher score need not mean a "
                     "better model.")
    else:
        prints = {r.config.get("dataset_fingerprint") for r in run_infos} - {None}
        if len(prints) > 1:
            notes.append(f"Dataset {dataset_name(run_infos[0])} changed between these runs "
                         "(files added, removed or edited): their validation images may differ.")
    names = {r.run_id: class_names(r) for r in run_infos}
    if len({tuple(n) for n in names.values()}) > 1:
        shared = shared_classes(names.values())
        listed = "; ".join(f"{run}: {', '.join(n) or 'none'}" for run, n in names.items())
        what = (f"the per-class chart shows only the {len(shared)} they share "
                f"({', '.join(shared)})" if shared
                else "no class is in all of them, so there is no per-class chart")
        notes.append(f"These runs have different classes ({listed}): {what}.")
    return notes


def shared_classes(name_lists):
    """Class names present in every list, in the first list's order."""
    lists = [list(n) for n in name_lists]
    if not lists:
        return []
    return [name for name in lists[0] if all(name in other for other in lists[1:])]


def per_class_comparison(run_infos, curves):
    """Per-class IoU at each run's best epoch, over the classes all runs share.

    Args:
        run_infos: the runs, in the order picked.
        curves: {run id: epoch records}.

    Returns:
        (class names, {run id: IoU per shared class}, notes): runs without a validated epoch
        are left out, each with a sentence saying so.
    """
    notes, scored = [], {}
    for run in run_infos:
        record = best_epoch(curves.get(run.run_id, []))
        if record is None or not record.get("per_class_iou"):
            notes.append(f"Run {run.run_id} has no validated epoch yet: it is left out of the "
                         "per-class chart.")
        else:
            scored[run.run_id] = (class_names(run), record["per_class_iou"])
    shared = shared_classes(names for names, _ in scored.values())
    values = {run_id: [iou[names.index(name)] for name in shared]
              for run_id, (names, iou) in scored.items()}
    return shared, values, notes


def score_source(status, checkpoint="best"):
    """Which weights the scores come from, with their epoch, and whether the run still trains.

    Args:
        status: `runs.read_status` of the run (its epochs come from the committed checkpoint).
        checkpoint: the weights scored, "best" or "last" (`evaluate_run`'s `checkpoint`).

    Returns:
        A short phrase, e.g. "best checkpoint (epoch 3); still training: 5 of 30 epochs done,
        scores follow each better checkpoint".
    """
    done, planned = status.get("epoch"), status.get("epochs")
    epoch = status.get("best_epoch") if checkpoint == "best" else done
    text = f"{checkpoint} checkpoint" + (f" (epoch {epoch})" if epoch else "")
    if status.get("state") in ACTIVE:
        of = f" of {planned}" if planned else ""
        unit = "epoch" if (planned or done) == 1 else "epochs"  # "0 of 1 epoch done"
        text += (f"; still training: {done or 0}{of} {unit} done, scores follow each "
                 f"{'better' if checkpoint == 'best' else 'new'} checkpoint")
    return text


def metrics_csv(curves):
    """CSV text of epoch records of several runs ({run id: records}), one row per run epoch."""
    import pandas as pd

    rows = []
    for run_id, records in curves.items():
        for record in records:
            flat = {"run": run_id}
            for key, value in record.items():
                if isinstance(value, list):
                    flat.update({f"{key}_{i}": v for i, v in enumerate(value)})
                else:
                    flat[key] = value
            rows.append(flat)
    return pd.DataFrame(rows).to_csv(index=False)
