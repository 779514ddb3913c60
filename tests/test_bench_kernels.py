"""bench kernels: each kernel set timed in a child process that honours it."""

from bench.kernels import run_kernels


def test_each_kernel_set_is_timed_in_its_own_child_and_compared():
    cases = [("reseg", 16, 24, 3, 4, 2), ("unet", 16, 16, 1, 2, 2)]
    records = run_kernels(cases, rounds=2)
    assert [(r["model"], r["window"], r["batch"]) for r in records] == [
        ("reseg", "16x24x3", 2), ("unet", "16x16x1", 2)]
    for record in records:
        rounds = record["rounds"]
        assert len(rounds["onednn"]) == len(rounds["tensorflow"]) == 2
        assert all(rate > 0 for rate in rounds["onednn"] + rounds["tensorflow"])
        ratio = record["onednn_img_per_s"] / record["tensorflow_img_per_s"]
        assert abs(record["speedup"] - ratio) <= 0.01 * ratio
