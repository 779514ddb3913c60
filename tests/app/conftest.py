import io
import shutil

import pytest

from segcore import launch, runs
from segcore.commands.data import ensure_demo
from segcore.place import PLACE_FILE
from segcore.training import loop
from segcore.training.config import RunConfig


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory):
    """A workspace with the demo dataset and one tiny finished run."""
    root = tmp_path_factory.mktemp("app") / "workspace"
    root.mkdir()
    demo = ensure_demo(root)
    config = RunConfig(data=str(demo), model="unet", hparams={"depth": 2, "base_filters": 8},
                       img_size=(32, 32), epochs=2, batch_size=8, seed=0)
    path = runs.create_run(root, config)
    loop.train(config, path, stream=io.StringIO())
    return root, path.name


def _folders(folder):
    return {path.name for path in folder.iterdir()
            if path.is_dir() and not path.name.startswith(".")}


@pytest.fixture
def app_env(trained_workspace, monkeypatch):
    """The shared workspace; each test starts without a kept place (last dataset, run and
    Train settings), so no test opens where another one left off, and the runs and datasets
    a test added are removed after it (its runs stopped first), so none becomes the newest
    run or an extra dataset of the next test whatever the order."""
    root, run_id = trained_workspace
    monkeypatch.setenv("SEGCORE_HOME", str(root))
    (root / PLACE_FILE).unlink(missing_ok=True)
    runs_before, datasets_before = _folders(runs.runs_dir(root)), _folders(root / "datasets")
    yield root, run_id
    (root / PLACE_FILE).unlink(missing_ok=True)
    for name in sorted(_folders(runs.runs_dir(root)) - runs_before):
        assert launch.stop_run(root, name, timeout=90) not in runs.ACTIVE, name
        shutil.rmtree(runs.runs_dir(root) / name)
    for name in sorted(_folders(root / "datasets") - datasets_before):
        shutil.rmtree(root / "datasets" / name)

