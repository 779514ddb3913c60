import io

import pytest

from segcore import runs
from segcore.commands.data import ensure_demo
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
    root, run_id = trained_workspace
    monkeypatch.setenv("SEGCORE_HOME", str(root))
    return root, run_id

