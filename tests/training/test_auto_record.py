"""A run's auto.json: written from the choices, read back checked; a damaged one is named."""

import json

import pytest

from segcore.errors import RunError
from segcore.training.auto import AUTO_FILE, Fingerprint, choose_settings, read_record, record


def written(folder, data):
    path = folder / AUTO_FILE
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return folder


@pytest.fixture
def sound(tmp_path):
    fp = Fingerprint(train_images=20, val_images=5, median_size=(64, 64), min_size=(64, 64),
                     max_size=(64, 64), channels=1, num_classes=2, class_names=("a", "b"),
                     class_shares=(0.7, 0.3), sampled_masks=20)
    return record(fp, choose_settings(fp, 2), cores=2)


def test_a_record_reads_back_as_written_and_a_run_without_one_reads_none(tmp_path, sound):
    assert read_record(tmp_path) is None
    chosen = read_record(written(tmp_path, json.loads(json.dumps(sound))))
    assert chosen == json.loads(json.dumps(sound))
    assert {c["setting"] for c in chosen["choices"]} >= {"model", "img_size", "lr"}


@pytest.mark.parametrize("damage", [
    "{not json",
    "[1, 2]",
    {"choices": {"model": "unet"}},
    {"choices": [1, 2]},
    {"choices": [{"setting": "model", "value": "unet"}]},  # no reason
    {"choices": [{"setting": "model", "value": "unet", "reason": "r", "given": "yes"}]},
    {"choices": [], "changed_after": "lr"},
    {"choices": [], "source": ["x"]},
])
def test_a_damaged_record_is_one_sentence_naming_the_file(tmp_path, damage):
    with pytest.raises(RunError) as error:
        read_record(written(tmp_path, damage))
    message = str(error.value)
    assert str(tmp_path / AUTO_FILE) in message and "\n" not in message


def test_undecodable_bytes_are_named_too(tmp_path):
    (tmp_path / AUTO_FILE).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RunError, match="auto.json"):
        read_record(tmp_path)
