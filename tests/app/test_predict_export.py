"""The Predict page's export: names per checkpoint, and an earlier export replaced only on request."""

import shutil

from page_runner import page


def download_labels(at):
    return [d.proto.label for d in at.get("download_button")]


def test_a_second_export_asks_before_replacing_and_best_and_last_both_download(app_env):
    root, run_id = app_env
    export = root / "runs" / run_id / "export"
    shutil.rmtree(export, ignore_errors=True)
    try:
        at = page("predict").run()
        at.button(key="export").click().run()
        assert not at.exception, [e.value for e in at.exception]
        best = export / "model-best.keras"
        stamp = best.stat().st_mtime_ns
        assert any(label.startswith("Download model-best.keras") for label in download_labels(at))
        at.button(key="export").click().run()
        assert any("exists already" in w.value for w in at.warning)
        assert best.stat().st_mtime_ns == stamp
        at.checkbox(key="export_replace").check().run()
        at.button(key="export").click().run()
        assert not at.exception and best.stat().st_mtime_ns != stamp
        at.selectbox(key="export_weights").select("last").run()
        at.button(key="export").click().run()
        assert not at.exception, [e.value for e in at.exception]
        labels = download_labels(at)
        assert any(label.startswith("Download model-best.keras") for label in labels), labels
        assert any(label.startswith("Download model-last.keras") for label in labels), labels
    finally:
        shutil.rmtree(export, ignore_errors=True)
