import contextlib
import io
import os
import stat
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import png_bytes, zip_bytes, zip_of_empty_entries
from segcore.data.archive import extract_zip
from segcore.errors import DataError

PAIR = {"images/a.png": png_bytes(np.zeros((4, 4), np.uint8)),
        "masks/a.png": png_bytes(np.zeros((4, 4), np.uint8))}


def test_dataset_zip_with_top_folder_imports(tmp_path):
    data = zip_bytes({f"top/{k}": v for k, v in PAIR.items()})
    dest = extract_zip(data, tmp_path / "new")
    assert (dest / "images" / "a.png").is_file() and (dest / "masks" / "a.png").is_file()


def test_loose_pairs_import(tmp_path):
    data = zip_bytes({"a.png": PAIR["images/a.png"], "a_mask.png": PAIR["masks/a.png"]})
    dest = extract_zip(data, tmp_path / "new")
    assert (dest / "masks" / "a.png").is_file()


def _zip_with_symlink():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("images/link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _bomb(total_mib=64):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("images/a.png", b"\0" * (total_mib * 1024 * 1024))
    return buffer.getvalue()



@pytest.mark.parametrize("data, message", [
    (zip_bytes({"../evil.png": b"x"}), "outside"),
    (zip_bytes({"/abs/evil.png": b"x"}), "absolute"),
    (_zip_with_symlink(), "symbolic link"),
    (_bomb(), "zip bomb"),
    (zip_of_empty_entries(50_000), "50,000 entries"),
    (zip_bytes({"inner.zip": zip_bytes(PAIR)}), "nested"),
    (b"", "empty"),
    (b"not a zip at all", "not a valid zip"),
])
def test_unsafe_zips_are_refused_and_leave_nothing(tmp_path, data, message):
    with pytest.raises(DataError, match=message):
        extract_zip(data, tmp_path / "new", label="upload.zip")
    assert os.listdir(tmp_path) == []


def test_total_size_cap_counts_real_bytes(tmp_path):
    data = zip_bytes({"images/a.png": os.urandom(3 * 1024 * 1024)})
    with pytest.raises(DataError, match="too large"):
        extract_zip(data, tmp_path / "new", max_total_bytes=1024 * 1024)
    assert os.listdir(tmp_path) == []


def test_existing_dataset_is_never_overwritten(tmp_path):
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="exists already"):
        extract_zip(zip_bytes(PAIR), tmp_path / "new")
    assert (tmp_path / "new" / "keep.txt").read_text() == "mine"


names = st.lists(
    st.lists(st.sampled_from(["a", "b", ".", "..", "/", "\\", ":", "ü", " "]), min_size=1,
             max_size=8).map("".join),
    min_size=1, max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(names)
def test_no_member_name_escapes_the_target(tmp_path_factory, member_names):
    root = tmp_path_factory.mktemp("zip")
    target = root / "inside" / "new"
    target.parent.mkdir()
    entries = {name: b"data" for name in member_names}
    entries.update(PAIR)
    with contextlib.suppress(DataError):
        extract_zip(zip_bytes(entries), target)
    for path in root.rglob("*"):
        assert path == root / "inside" or (root / "inside") in path.parents
