"""Global options are taken before or after the command (`train ... --workspace DIR`)."""

import pytest

from segcore.cli import build_parser, main


@pytest.mark.parametrize("argv", [
    ["--workspace", "W", "runs"],
    ["runs", "--workspace", "W"],
    ["--workspace", "W", "train", "--epochs", "3"],
    ["train", "--epochs", "3", "--workspace", "W"],
    ["--workspace", "elsewhere", "stop", "--run", "r", "--workspace", "W"],  # the last one wins
])
def test_workspace_is_taken_in_either_order(argv):
    assert build_parser().parse_args(argv).workspace == "W"


def test_no_workspace_flag_leaves_the_default():
    assert build_parser().parse_args(["runs"]).workspace is None


@pytest.mark.parametrize("before", [True, False])
def test_a_command_uses_the_workspace_given_in_either_order(before, tmp_path, capsys):
    workspace = tmp_path / "ws"
    argv = ["runs", "--json"]
    argv = ["--workspace", str(workspace), *argv] if before else [*argv, "--workspace",
                                                                    str(workspace)]
    assert main(argv) == 0
    assert (workspace / "runs").is_dir()
    assert capsys.readouterr().out.strip() == "[]"
