"""`segcore train --auto` from a shell: the choices printed, kept, and timed once per machine."""

import json
from pathlib import Path

from helpers import write_lines_dataset
from segcore.cli import main
from segcore.training.auto import speed as speed_module


def test_cli_auto_prints_each_choice_trains_and_keeps_them(tmp_path, capsys, monkeypatch):
    # Kept even if another program slows this probe (that rule is test_speed's).
    monkeypatch.setattr(speed_module, "BUSY_SHARE", 0.0)
    data = write_lines_dataset(tmp_path / "lines", count=12, size=(32, 32))
    workspace = tmp_path / "ws"
    code = main(["--workspace", str(workspace), "train", "--data", str(data), "--auto",
                 "--time-budget", "0.2", "--epochs", "1", "--batch-size", "3",
                 "--split", "contiguous"])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    run = Path(out[-1])
    lines = {line.strip().split(" = ")[0]: line for line in out if " = " in line}
    assert lines["batch_size"].strip() == "batch_size = 3: given"
    assert lines["epochs"].strip() == "epochs = 1: given"
    assert "gray or multi-band images" in lines["augment.vflip"]
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["batch_size"] == 3 and config["epochs"] == 1
    assert config["augment"]["vflip"] is True and config["augment"]["rot90"] is True
    assert config["hparams"]["depth"] == 3  # chosen for 32-pixel images
    record = json.loads((run / "auto.json").read_text())
    choices = {c["setting"]: c for c in record["choices"]}
    assert choices["batch_size"]["given"] and not choices["model"]["given"]
    assert choices["img_size"]["value"] == config["img_size"]
    assert 1 in record["fingerprint"]["thin_classes"]
    # Gray images that train whole at their native size: U-Net+ReNet, the one family timed.
    assert config["model"] == "unet-renet" and config["crop"] is None
    # The machine's speed was timed (a real probe) once, kept in the workspace, and recorded.
    assert sum("timing a few unet-renet training steps" in line for line in out) == 1
    assert not any("timing a few unet training steps" in line for line in out)
    # Timed in the precision --auto chose: bfloat16 on a CPU that computes it natively.
    name = f"unet-renet|{config['precision']}"
    assert config["precision"] in ("float32", "bfloat16") and record["speed"][name] > 0
    kept = json.loads((workspace / "cache" / "speed.json").read_text())
    assert [rates[name] for rates in kept.values()] == [record["speed"][name]]
    assert main(["--workspace", str(workspace), "train", "--data", str(data), "--auto",
                 "--time-budget", "0.2", "--epochs", "1", "--batch-size", "3",
                 "--split", "contiguous"]) == 0
    assert "timing a few" not in capsys.readouterr().out  # measured once per machine


def test_cli_auto_refuses_a_missing_folder_and_a_resume(tmp_path, capsys):
    workspace = tmp_path / "ws"
    assert main(["--workspace", str(workspace), "train", "--data", str(tmp_path / "nope"),
                 "--auto"]) == 2
    assert "nope: dataset folder not found" in capsys.readouterr().err
    assert main(["--workspace", str(workspace), "train", "--resume", "x", "--auto"]) == 2
    assert "--auto" in capsys.readouterr().err
