"""Too few steps per epoch are warned about: on the Train page and by training itself."""

import io

from page_runner import page
from segcore import runs
from segcore.training import loop
from segcore.training.config import RunConfig


def test_train_page_warns_when_an_epoch_has_few_steps(app_env):
    _, run_id = app_env  # the demo's 38 training images at batch size 8: 4 steps per epoch
    at = page("train")
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Only 4 training steps per epoch (batch size 8)" in i.value
               and "Lower the batch size" in i.value for i in at.info), [i.value for i in at.info]


def test_training_prints_the_few_steps_warning_at_start(workspace, demo_data):
    config = RunConfig(data=str(demo_data), model="unet", hparams={"depth": 2, "base_filters": 8},
                       img_size=(32, 32), epochs=1, batch_size=8, seed=0)
    stream = io.StringIO()
    loop.train(config, runs.create_run(workspace, config), stream=stream)
    first = stream.getvalue().splitlines()[0]
    assert first.startswith("warning: Only 2 training steps per epoch (19 training images at "
                            "batch size 8)"), stream.getvalue()[:300]
