import os
import sys
from pathlib import Path

import pytest

# segcore's TensorFlow settings (its oneDNN kernels) hold only if made before TensorFlow is
# imported, which some tests do before they reach segcore.
import segcore  # noqa: F401

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "app"))
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An empty workspace, also set as $SEGCORE_HOME for subprocesses."""
    root = tmp_path / "workspace"
    root.mkdir()
    monkeypatch.setenv("SEGCORE_HOME", str(root))
    return root


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """A small synthetic dataset (24 images of 32x32, 4 classes)."""
    from segcore.data.synthetic import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("demo") / "demo", count=24, size=(32, 32))
