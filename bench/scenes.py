"""New scenes: hold some of a dataset's scenes out of training and score the model on them.

CamVid's validation frames come from sequence 0016E5, which also gives 204 of the 367
training frames: val scores how well a model fits a street it has already seen. Its test
split (withheld here) is mostly a sequence that is in no other split, and a model that
scored 0.64 on val scored 0.50 there. Holding one training sequence out (0006R0: 101
frames, daylight, like most of the test) gives a score on scenes the model has never seen,
from training data only.

A scene is a file name's prefix before its first underscore (CamVid: `0006R0_f02400.png`).
"""

from pathlib import Path

from segcore.data.dataset import pair_folder


def scene_of(name):
    """The scene of a file name: its prefix before the first underscore."""
    return name.split("_", 1)[0]


def holdout_dataset(data, scenes, out):
    """Writes a train/ val/ dataset of links: `data`'s training frames of `scenes` become val.

    Args:
        data: a dataset with train/images and train/masks (a val/ there is left out: it
            may share scenes with training).
        scenes: scene names to hold out (see `scene_of`).
        out: an empty or missing folder for the new dataset (symbolic links, no copies).

    Returns:
        {"train": frames kept for training, "val": frames held out, "scenes": the held-out
        scenes, "train_scenes": the scenes left for training}.

    Raises:
        ValueError: a held-out scene has no frame or no frame would be left for training;
            `segcore.errors.DataError` (a ValueError) when train/ does not pair up.
    """
    data, out = Path(data), Path(out)
    samples = pair_folder(data / "train")
    scenes = set(scenes)
    found = {scene_of(sample.stem) for sample in samples}
    if missing := sorted(scenes - found):
        raise ValueError(f"{data / 'train' / 'images'}: no frame of scene "
                         f"{', '.join(missing)} (scenes: {', '.join(sorted(found))})")
    if not found - scenes:
        raise ValueError(f"holding out {', '.join(sorted(scenes))} leaves nothing to train on")
    counts = {"train": 0, "val": 0}
    for sample in samples:
        split = "val" if scene_of(sample.stem) in scenes else "train"
        for kind, path in (("images", sample.image), ("masks", sample.mask)):
            folder = out / split / kind
            folder.mkdir(parents=True, exist_ok=True)
            (folder / path.name).symlink_to(path.resolve())
        counts[split] += 1
    return {**counts, "scenes": sorted(scenes), "train_scenes": sorted(found - scenes)}
