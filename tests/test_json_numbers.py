"""Numbers that Python's JSON reads but arithmetic cannot take, in any file segcore reads.

JSON allows an integer of any length: `json.loads` reads a 400-digit one as an int, and
`float()`, `math.isfinite` and `f"{x:.3f}"` then raise OverflowError. Python's JSON also reads
NaN and Infinity, and `true` is an int to Python. Every reader refuses these, or names the file
as damaged, instead of raising.
"""

import io
import json
import math
from contextlib import redirect_stderr, redirect_stdout

import pytest

from export_samples import make_coco
from run_folders import train_tiny_run
from segcore.cli import main
from segcore.errors import RunError
from segcore.export_card import model_card, usage_text
from segcore.inference import RunPredictor
from segcore.numeric_range import is_finite_number, is_whole_number
from segcore.training import checkpoint, settings

HUGE = 10**400


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*map(str, argv)])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("value,expected", [
    (0, True), (-3, True), (0.5, True), (2**62, True), (1e308, True), (HUGE, False),
    (True, False), (math.nan, False), (math.inf, False), (-math.inf, False), ("1", False),
    (None, False), ([1], False)])
def test_is_finite_number(value, expected):
    assert is_finite_number(value) is expected


@pytest.mark.parametrize("value,minimum,expected", [
    (0, 0, True), (3, 1, True), (0, 1, False), (-1, 0, False), (2.0, 0, False), (True, 0, False),
    (2**70, 0, True), (HUGE, 0, False)])
def test_is_whole_number(value, minimum, expected):
    assert is_whole_number(value, minimum) is expected


def numbers(node, path=()):
    """The paths of every number (not bool) inside a JSON value."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from numbers(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from numbers(value, (*path, index))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path


def with_value(node, path, value):
    """A copy of the JSON value `node` with the field at `path` replaced."""
    node = json.loads(json.dumps(node))
    parent = node
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return node


def each_number_made_huge(file):
    """Yields once per number of the JSON or JSON-lines `file`, with the file holding that
    number as a 400-digit integer; the file is restored afterwards."""
    original = file.read_text()
    lines = original.splitlines()
    try:
        for row, line in enumerate(lines):
            record = json.loads(line) if file.suffix == ".jsonl" else json.loads(original)
            for path in list(numbers(record)):
                changed = json.dumps(with_value(record, path, HUGE))
                file.write_text(changed if file.suffix == ".json"
                                else "\n".join([*lines[:row], changed, *lines[row + 1:]]) + "\n")
                yield path
            if file.suffix == ".json":
                break
    finally:
        file.write_text(original)


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory, demo_data):
    """A stopped tiny run (a committed checkpoint) with both score caches written."""
    workspace = tmp_path_factory.mktemp("numbers") / "workspace"
    run = train_tiny_run(workspace, demo_data, stop_at_check=6)
    scores = {}
    for which in ("best", "last"):
        code, out, err = cli("--workspace", workspace, "evaluate", "--run", run.name,
                             "--weights", which, "--json")
        assert code == 0, err
        scores[which] = json.loads(out)["mean_iou"]
    return workspace, run, scores


def test_a_huge_number_in_any_field_of_status_config_state_or_metrics_is_read(scored_run):
    workspace, run, _ = scored_run
    files = [run / "status.json", run / "config.json", run / "metrics.jsonl",
             *sorted(run.glob("ckpt/gen-*/state.json"))]
    assert all(file.is_file() for file in files) and len(files) == 4
    tried = 0
    for file in files:
        for path in each_number_made_huge(file):
            for argv in (["runs"], ["runs", "--json"]):
                code, out, err = cli("--workspace", workspace, *argv)
                assert code == 0 and run.name in out and "Traceback" not in err, (
                    file.name, path, argv, err)
            if file.name == "state.json":
                record = json.loads(file.read_text())
                with pytest.raises(RunError, match="cannot resume"):
                    checkpoint.parse_state(file, record)
            tried += 1
    assert tried > 40  # every number of four files, not a handful


@pytest.mark.parametrize("which", ["best", "last"])
def test_a_huge_number_in_a_score_cache_is_scored_again(scored_run, which):
    workspace, run, scores = scored_run
    cache = run / f"eval_val_{which}.json"
    fields = {("mean_iou",), ("pixel_accuracy",), ("per_class_iou", 0), ("images",),
              ("confusion_matrix", 0, 0), ("per_image", 0, "mean_iou")}
    seen = set()
    for path in each_number_made_huge(cache):
        if path not in fields:
            continue
        seen.add(path)
        code, out, err = cli("--workspace", workspace, "evaluate", "--run", run.name,
                             "--weights", which, "--json")
        assert code == 0 and json.loads(out)["mean_iou"] == pytest.approx(scores[which]), (
            path, err)
    assert seen == fields


def test_kept_train_settings_with_a_huge_number_restore_nothing():
    form = settings.default_form()
    assert settings.restore(form) is not None
    for path in (("lr",), ("epochs",), ("augment", "brightness"), ("hparams", "depth")):
        assert settings.restore(with_value(form, path, HUGE)) is None, path


def test_an_export_card_with_a_huge_score_reads_without_it(scored_run):
    _, run, _ = scored_run
    card = model_card(RunPredictor(run, "last"), "keras", "last", "model-last.keras")
    card["weights"]["val_mean_iou"] = HUGE
    assert "validation mean IoU" not in usage_text(card)


@pytest.mark.parametrize("change,message", [
    (lambda data: data["images"][0].update(height=HUGE), "positive whole height and width"),
    (lambda data: data["images"][0].update(height=True), "positive whole height and width"),
    (lambda data: data["images"][0].update(height=20_000, width=20_000), "pixel cap"),
    (lambda data: data["annotations"][0].update(segmentation=[[2, 2, HUGE, 2, 14, 14]]),
     "each a finite number"),
])
def test_a_coco_file_with_an_impossible_number_is_one_error_naming_it(tmp_path, change, message):
    root = make_coco(tmp_path / "c", "annotations")
    annotations = root / "annotations" / "instances_default.json"
    data = json.loads(annotations.read_text())
    change(data)
    annotations.write_text(json.dumps(data))
    code, out, err = cli("check-data", root)
    assert code == 2 and "Traceback" not in err, err
    assert out.startswith(f"{annotations}: ") and message in out and len(out.splitlines()) == 1
