"""Labelling commands: `rank` (the images a run is least sure of: label those next)."""

import json
from pathlib import Path

from segcore.errors import DataError
from segcore.workspace import workspace_root

RANK_SPLITS = ("unlabelled", "train", "val", "test", "all")


def register(subparsers):
    rank = subparsers.add_parser(
        "rank", help="rank a dataset's images by a run's uncertainty (most uncertain first)")
    rank.add_argument("--run", required=True, help="run id or folder")
    rank.add_argument("--data", help="dataset folder (default: the run's)")
    rank.add_argument("--split", default="unlabelled", choices=RANK_SPLITS,
                      help="which images: unlabelled/ (default), a split, or all labelled ones")
    rank.add_argument("--measure", default="entropy", choices=("entropy", "margin"),
                      help="per-pixel uncertainty averaged per image (default: entropy)")
    rank.add_argument("--weights", default="best", choices=("best", "last"))
    rank.add_argument("--top", type=int, default=None, metavar="N", help="print the first N")
    rank.add_argument("--json", action="store_true", help="print one JSON list")
    rank.set_defaults(handler=rank_command)


def rank_paths(dataset, split):
    """The images of `split` in a loaded dataset ("all": every labelled split)."""
    if split == "unlabelled":
        return list(dataset.unlabelled)
    names = [s for s in dataset.splits if split in ("all", s)]
    return [sample.image for name in names for sample in dataset.samples(name)]


def rank_command(args):
    from segcore import runs
    from segcore.data.dataset import load_dataset
    from segcore.inference import RunPredictor
    from segcore.uncertainty import rank_images, run_probabilities

    if args.top is not None and args.top < 1:
        raise DataError(f"--top {args.top}: give a count of 1 or more.")
    path = runs.run_dir(workspace_root(args.workspace), args.run, write=False)
    config = runs.read_config(path)["config"]
    data = Path(args.data or config["data"])
    if not data.is_dir():
        raise DataError(f"{data}: dataset folder not found"
                        + ("" if args.data else f" (the run's dataset, in {path}/config.json)")
                        + "; give --data DIR.")
    predictor = RunPredictor(path, args.weights)
    dataset = load_dataset(data, classes=predictor.class_map, split=config.get("split", "auto"),
                           val_fraction=config.get("val_fraction", 0.2), seed=config.get("seed", 0))
    paths = rank_paths(dataset, args.split)
    if not paths:
        where = (f"{dataset.root}/unlabelled/" if args.split == "unlabelled"
                 else f"the {args.split!r} split of {dataset.root}")
        raise DataError(f"{where}: no images to rank.")
    ranked = rank_images(paths, lambda image: run_probabilities(predictor, image), args.measure,
                         read=lambda path: predictor.read(path, compact=True))
    ranked = ranked[: args.top] if args.top else ranked
    if args.json:
        print(json.dumps([{"image": str(p), "score": s} for p, s in ranked]))
        return 0
    for position, (image, score) in enumerate(ranked, 1):
        print(f"{position:>4}  {score:.4f}  {image}")
    return 0
