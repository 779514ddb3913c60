"""Data commands: `check-data`, `demo`, `import`."""

import json
import shutil
import tempfile
from pathlib import Path

from segcore.errors import DataError
from segcore.workspace import child_path, datasets_dir, workspace_root

DEMO_NAME = "demo"


def register(subparsers):
    check = subparsers.add_parser(
        "check-data", help="check a dataset folder or zip and summarize it (exit 2 on problems)"
    )
    check.add_argument("path", help="dataset folder or .zip")
    check.add_argument("--classes", help="class file (JSON) to use instead of the dataset's")
    check.add_argument("--ignore-index", type=int, help="mask value of void pixels")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(handler=check_data)

    demo = subparsers.add_parser("demo", help="create the built-in demo dataset if missing")
    demo.set_defaults(handler=make_demo)

    importer = subparsers.add_parser("import", help="import a dataset zip into the workspace")
    importer.add_argument("zip", help="a .zip of a dataset folder or of loose image/mask pairs")
    importer.add_argument("--name", required=True, help="dataset name in the workspace")
    importer.set_defaults(handler=import_zip)


def check_data(args):
    from segcore.data.doctor import check_dataset, format_report

    scratch = None
    if Path(args.path).suffix.lower() == ".zip":
        scratch = workspace_root(args.workspace) / ".scratch"
        scratch.mkdir(exist_ok=True)
    report = check_dataset(args.path, classes=args.classes, ignore_index=args.ignore_index,
                           scratch=scratch)
    if args.json:
        print(json.dumps({"ok": report.ok, "summary": report.summary, "problems": report.problems}))
    else:
        print(format_report(report))
    return 0 if report.ok else 2


def ensure_demo(workspace):
    """Returns the demo dataset folder, generating it on first use."""
    from segcore.data.synthetic import make_synthetic

    folder = datasets_dir(workspace) / DEMO_NAME
    if not (folder / "classes.json").is_file():
        staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=folder.parent))
        make_synthetic(staging / "data")
        shutil.rmtree(folder, ignore_errors=True)
        (staging / "data").rename(folder)
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def demo_run_config(workspace):
    """Tiny settings for a first run on the demo dataset: a small U-Net at 64x64 that finishes
    in well under a minute on two CPU cores, with enough steps per epoch to learn something."""
    from segcore.training.config import RunConfig

    return RunConfig(data=str(ensure_demo(workspace)), model="unet",
                     hparams={"depth": 2, "base_filters": 8}, img_size=(64, 64), epochs=4,
                     batch_size=2, lr=1e-2, seed=0).validate()


def make_demo(args):
    print(ensure_demo(workspace_root(args.workspace)))
    return 0


def import_zip(args):
    from segcore.data.archive import extract_zip
    from segcore.data.doctor import check_folder

    root = workspace_root(args.workspace)
    dest = child_path(datasets_dir(root), args.name, "dataset name")
    if dest.exists():
        raise DataError(f"A dataset named {args.name!r} exists already; pick another name.")
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=dest.parent))
    try:
        extracted = extract_zip(args.zip, staging / "data", label=args.zip)
        report = check_folder(extracted)
        if not report.ok:
            lines = [p.replace(str(extracted), args.zip) for p in report.problems]
            raise DataError(f"{args.zip}: not imported, {len(lines)} problem"
                            f"{'s' if len(lines) != 1 else ''}:\n" + "\n".join(lines))
        extracted.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(dest)
    return 0
