"""segcore turns TensorFlow's oneDNN kernels on unless the environment says otherwise."""

import json
import os
import subprocess
import sys

import pytest

PROBE = ("import json, segcore, tensorflow; from segcore.cpuinfo import onednn_on; "
         "print(json.dumps(onednn_on()))")


def _onednn_in_child(setting):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("setting, expected", [(None, True), ("1", True), ("0", False)])
def test_importing_segcore_turns_onednn_on_unless_the_environment_says(setting, expected):
    assert _onednn_in_child(setting) is expected
