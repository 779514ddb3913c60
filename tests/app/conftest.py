import io

import pytest

from segcore import runs
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


@pytest.fixture
def app_env(trained_workspace, monkeypatch):
    """The shared workspace; each test starts without a kept place (last dataset, run and
    Train settings), so no test opens where another one left off."""
    root, run_id = trained_workspace
    monkeypatch.setenv("SEGCORE_HOME", str(root))
    (root / PLACE_FILE).unlink(missing_ok=True)
    yield root, run_id
    (root / PLACE_FILE).unlink(missing_ok=True)

