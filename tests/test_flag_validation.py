"""Every train flag is checked before anything starts: NaN, infinity and ranges give one line.

Most cases go through the parser and `config_from_args` (no TensorFlow, milliseconds); a few
go through the real CLI to check the exit code and that no run folder appears.
"""

import math

import pytest
from test_hostile_inputs import cli, one_clear_line

from segcore.cli import build_parser
from segcore.commands.run import config_from_args
from segcore.errors import ConfigError
from segcore.training.config import RunConfig


def parse(*flags):
    args = build_parser().parse_args(["train", "--data", "somewhere", *map(str, flags)])
    return config_from_args(args)


BAD_FLAGS = [
    ("--momentum", "nan"), ("--momentum", "inf"), ("--momentum", "1"), ("--momentum", "-0.1"),
    ("--weight-decay", "nan"), ("--weight-decay", "-1e-4"), ("--weight-decay", "inf"),
    ("--lr", "nan"), ("--lr", "inf"), ("--lr", "0"),
    ("--val-fraction", "nan"), ("--val-fraction", "1"),
    ("--warmup-epochs", "nan"), ("--warmup-epochs", "-1"), ("--warmup-epochs", "inf"),
    ("--time-budget", "inf"), ("--time-budget", "nan"), ("--time-budget", "-1"),
    ("--seed", "-5"), ("--seed", str(2**32)),
    ("--ignore-index", "300"), ("--ignore-index", "-1"),
    ("--epochs", "0"), ("--epochs", str(10**9)), ("--batch-size", "0"), ("--batch-size", "100000"),
    ("--patience", "-1"), ("--log-every", "0"),
    ("--scale-min", "nan"), ("--scale-min", "0"), ("--scale-min", "1.5"),
    ("--brightness", "nan"), ("--brightness", "-0.1"), ("--brightness", "2"),
    ("--contrast", "inf"), ("--contrast", "-1"), ("--saturation", "nan"), ("--saturation", "1.5"),
    ("--elastic", "nan"), ("--elastic", "-1"), ("--elastic", "100"),
    ("--paste-rare", "nan"), ("--paste-rare", "-0.1"), ("--paste-rare", "0.6"),
    ("--paste", "Pole,,Sign"),
    ("--dropout", "nan"), ("--dropout", "inf"), ("--dropout", "0.9"),
    ("--depth", "nan"), ("--base-filters", "inf"),
    ("--label-smoothing", "nan"), ("--label-smoothing", "1"), ("--label-smoothing", "-0.1"),
]


@pytest.mark.parametrize("flag, value", BAD_FLAGS)
def test_a_bad_value_is_refused_naming_its_flag(flag, value):
    with pytest.raises(ConfigError) as caught:
        parse(f"{flag}={value}")
    message = str(caught.value)
    assert flag.lstrip("-") in message, message
    assert "\n" not in message


@pytest.mark.parametrize("flag, value", [
    ("--momentum", "0"), ("--momentum", "0.99"), ("--weight-decay", "0"), ("--warmup-epochs", "0"),
    ("--seed", "0"), ("--seed", str(2**32 - 1)), ("--ignore-index", "0"), ("--ignore-index", "255"),
    ("--time-budget", "0.5"), ("--scale-min", "1"), ("--scale-min", "0.3"), ("--contrast", "0.5"),
    ("--elastic", "10"), ("--saturation", "1"), ("--paste-rare", "0.5"),
    ("--dropout", "0.5"), ("--label-smoothing", "0"), ("--label-smoothing", "0.5"),
])
def test_values_at_the_edges_of_the_ranges_pass(flag, value):
    parse(f"{flag}={value}")


def test_config_json_values_are_checked_too():
    """A config from the app or a run's config.json goes through the same checks."""
    for bad in ({"momentum": math.nan}, {"epochs": "10"}, {"epochs": True}, {"seed": 1.5},
                {"augment": {"scale_min": math.inf}}, {"augment": {"hflip": "yes"}},
                {"augment": {"paste": [1]}}, {"augment": {"paste": {"Pole": 1}}},
                {"hparams": {"dropout": math.nan}}, {"hparams": [1]}):
        with pytest.raises(ConfigError):
            RunConfig(**{"data": "x", **bad}).validate()
    config = RunConfig(data="x", epochs=3.0, time_budget_min=2).validate()
    assert config.epochs == 3 and isinstance(config.epochs, int)
    assert isinstance(config.time_budget_min, float)


def test_paste_takes_class_names_comma_separated():
    assert parse("--paste= Pole , Pedestrian,Pole").augment.paste == ["Pole", "Pedestrian"]
    assert parse("--paste=").augment.paste == [] and parse().augment.paste == []


def test_every_numeric_field_has_a_range():
    """A new numeric field cannot slip in without bounds."""
    import dataclasses

    for f in dataclasses.fields(RunConfig):
        if f.type in ("int", "float", "int | None", int, float) or f.name == "ignore_index":
            assert "range" in f.metadata, f.name


def test_label_smoothing_is_refused_for_a_loss_without_cross_entropy():
    with pytest.raises(ConfigError, match="--label-smoothing .*not to --loss dice"):
        parse("--loss", "dice", "--label-smoothing", "0.1")
    assert parse("--loss", "ce+dice", "--label-smoothing", "0.1").label_smoothing == 0.1


@pytest.mark.parametrize("flags, needle", [
    (("--loss", "dice"), "--loss dice: shares train cross-entropy only"),
    (("--paste", "a"), "--paste or --paste-rare"),
    (("--patch", "32x32"), "--patch: patches keep their pixels"),
    (("--class-weights", "median", "--prior-fit", "train"), "--prior-fit train"),
])
def test_label_shares_are_refused_where_labels_are_needed(flags, needle):
    assert parse("--label-resize", "shares").label_resize == "shares"
    assert parse("--label-resize", "majority", *flags).label_resize == "majority"
    with pytest.raises(ConfigError, match=f"--label-resize shares does not go with {needle}"):
        parse("--label-resize", "shares", *flags)


@pytest.mark.parametrize("flags, needle", [
    (("--momentum", "nan", "--optimizer", "sgd"), "--momentum"),
    (("--seed", "-5"), "--seed"),
    (("--ignore-index", "300"), "--ignore-index"),
    (("--time-budget", "inf"), "--time-budget"),
])
def test_the_cli_exits_2_before_creating_a_run(flags, needle, tmp_path, workspace):
    from helpers import make_pair_dataset

    root = make_pair_dataset(tmp_path / "d", count=4, size=(8, 8), classes=2)
    result = cli("train", "--data", root, "--img-size", "16x16", "--epochs", "1", *flags,
                 workspace=workspace)
    line = one_clear_line(result, needle)
    assert needle in line
    assert not [p for p in (workspace / "runs").glob("*") if p.is_dir()], "no run folder"


def test_a_missing_or_malformed_classes_file_is_refused_by_the_flag_check(tmp_path):
    from segcore.errors import DataError

    with pytest.raises(DataError, match="class file not found"):
        parse("--classes", tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text('{"classes": [{"name": "a", "color": [1, 2]}]}')
    with pytest.raises(DataError, match="bad.json: class 1 \\('a'\\): colour"):
        parse("--classes", tmp_path / "bad.json")
