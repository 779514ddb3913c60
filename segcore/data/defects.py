"""Masks that are not label maps: JPEG compression and anti-aliasing, found and snapped back.

A label map holds a few values, each filling regions. A mask saved as JPEG, or smoothed when
resized or drawn, keeps its regions but gains many stray values along every edge (a binary
mask becomes "256 classes"). Such a mask is told apart by its values: a few *solid* ones
(pixels whose four neighbours share the value) hold nearly all pixels, and many others lie
only on edges. Snapping maps every pixel to the nearest solid value (or declared class).
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np

from segcore.errors import DataError

SOLID_SHARE = 0.1  # a value with this share of its pixels inside regions is a real value
MODE_SHARE = 0.5  # the solid values (with the near values around them) hold this share
EXACT_SHARE = 0.2  # and the solid values alone this share of the pixels
MIN_STRAYS = 4  # a few stray values are tiny objects; more than this many (and more than
# twice the solid values) are artefacts
MERGE_DISTANCE = 32  # solid colours this close (RGB distance) are one class scattered by JPEG


def _codes(raw):
    """One integer per pixel: the gray value, or r<<16 | g<<8 | b for a colour mask."""
    if raw.ndim == 2:
        return raw.astype(np.int64)
    return (raw[..., 0].astype(np.int64) << 16) | (raw[..., 1].astype(np.int64) << 8) | raw[..., 2]


def _rgb(code):
    return (int(code) >> 16, (int(code) >> 8) & 255, int(code) & 255)


def _interior(codes):
    """True where the four neighbours hold the pixel's own value (the image border agrees)."""
    same = np.ones(codes.shape, dtype=bool)
    same[1:, :] &= codes[1:, :] == codes[:-1, :]
    same[:-1, :] &= codes[:-1, :] == codes[1:, :]
    same[:, 1:] &= codes[:, 1:] == codes[:, :-1]
    same[:, :-1] &= codes[:, :-1] == codes[:, 1:]
    return same


def value_stats(raw):
    """The values of a mask with their pixel and interior-pixel counts.

    Near values (or shades) that fill no region of their own count as the most frequent
    value near them (see `_cluster`): JPEG scatters a small region over many of them.

    Args:
        raw: a raw mask, (H, W) values or (H, W, 3) colours.

    Returns:
        ({group: (pixels, interior pixels, the group's median value)}, distinct exact
        values, share of pixels whose exact value fills regions); a colour is coded
        r<<16 | g<<8 | b.
    """
    if raw.ndim == 2:  # 256 values at most: lookup tables instead of sorting every pixel
        codes, table = raw, np.arange(256, dtype=np.int64)
        exact_counts = np.bincount(raw.ravel(), minlength=256)
        exact_inside = np.bincount(raw[_interior(raw)], minlength=256)
        present = exact_counts > 0
        exact, exact_counts, exact_inside = table[present], exact_counts[present], exact_inside[
            present]
    else:
        codes = _codes(raw)
        exact, inverse, exact_counts = np.unique(codes, return_inverse=True, return_counts=True)
        exact_inside = np.bincount(inverse.ravel()[_interior(codes).ravel()],
                                   minlength=len(exact))
    solid = exact_inside >= SOLID_SHARE * exact_counts
    centre = _cluster(exact, exact_counts, solid)
    if raw.ndim == 2:
        table[exact] = centre
        keys = table[raw]
        values = np.unique(centre)
        inverse = np.searchsorted(values, keys).ravel()
    else:
        keys = centre[inverse.ravel()].reshape(codes.shape)
        values, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
    counts = np.bincount(inverse, minlength=len(values))
    inside = np.bincount(inverse[_interior(keys).ravel()], minlength=len(values))
    middle = {int(v): _weighted_median(exact[centre == v], exact_counts[centre == v])
              for v in values}
    stats = {int(v): (int(c), int(i), middle[int(v)]) for v, c, i in zip(values, counts, inside)}
    return stats, len(exact), float(exact_counts[solid].sum() / max(1, codes.size))


def _weighted_median(codes, counts):
    """The value (per channel for colours) that half a group's pixels lie on either side of:
    JPEG's errors spread both ways around the true one."""
    channels = []
    for shift in (16, 8, 0):
        part = (codes >> shift) & 255
        order = np.argsort(part, kind="stable")
        cumulative = np.cumsum(counts[order])
        channels.append(int(part[order][np.searchsorted(cumulative, cumulative[-1] / 2)]))
    return (channels[0] << 16) | (channels[1] << 8) | channels[2]


def _cluster(colours, counts, solid, limit=256):
    """For each distinct colour, the colour whose group it joins: near shades (within
    `MERGE_DISTANCE`) join the most frequent of them.

    JPEG scatters a flat colour over near shades; grouped, they fill their region again.
    A colour that fills regions by itself (`solid`) is never absorbed: two close palette
    colours stay two classes. After `limit` groups the rest stay alone (a photo is not worth
    grouping further).
    """
    rgb = np.stack([(colours >> s) & 255 for s in (16, 8, 0)], axis=-1).astype(np.float64)
    centre = colours.copy()
    free = ~solid
    order = np.lexsort((-counts, ~solid))  # solid colours seed first, then by frequency
    for index in order[:limit]:
        if not (free[index] or solid[index]):
            continue
        near = free & (((rgb - rgb[index]) ** 2).sum(axis=-1) <= MERGE_DISTANCE ** 2)
        centre[near] = colours[index]
        free &= ~near
        free[index] = False
    return centre


def solid_values(stats):
    """The keys of `value_stats` that fill regions, most pixels first."""
    solid = [v for v, entry in stats.items() if entry[1] >= SOLID_SHARE * entry[0]]
    return sorted(solid, key=lambda v: -stats[v][0])


def _too_many_strays(distinct, solid):
    """More stray values than a few tiny objects explain (and than twice the real ones)."""
    return distinct - solid > max(MIN_STRAYS, 2 * solid)


def mask_defect(raw, name="mask"):
    """Describes a mask that is not a label map (JPEG or smoothing artefacts), else None.

    Example:
        A 0/255 mask saved as JPEG holds ~50 values, nearly all pixels at or near 0 or 255:
        "54 distinct values, but 100% of pixels are at or near just 2 (0, 255); ...".
    """
    stats, distinct, exact_share = value_stats(raw)
    solid = solid_values(stats)
    total = sum(entry[0] for entry in stats.values()) or 1
    share = sum(stats[v][0] for v in solid) / total
    # Random noise groups into one "region" too: some values must fill regions as they are.
    if (not solid or share < MODE_SHARE or exact_share < EXACT_SHARE
            or not _too_many_strays(distinct, len(solid))):
        return None
    kind = "colours" if raw.ndim == 3 else "values"
    if raw.ndim == 3:  # close shades that each filled a bit of one region are one colour
        solid = [code for code, _ in solid_colours([raw])]
    else:
        solid = [stats[v][2] for v in solid]
    shown = ", ".join(str(_rgb(v)) if raw.ndim == 3 else str(v) for v in solid[:6])
    shown += " ..." if len(solid) > 6 else ""
    return (f"{name}: {distinct} distinct {kind}, but {100 * share:.0f}% of pixels are at or "
            f"near just {len(solid)} ({shown}); the rest are edge artefacts of JPEG "
            "compression or smoothing (anti-aliasing, resizing), so this is not a label map. "
            "Save masks losslessly (PNG) from the original labels, or snap every value to the "
            "nearest class.")


def _nearest(codes, targets, colour):
    """Each code replaced by the nearest target (by value, or by RGB distance for colours)."""
    targets = np.asarray(sorted(targets), dtype=np.int64)
    values, inverse = np.unique(codes, return_inverse=True)
    if colour:
        ours = np.stack([(values >> s) & 255 for s in (16, 8, 0)], axis=-1).astype(np.float64)
        theirs = np.stack([(targets >> s) & 255 for s in (16, 8, 0)], axis=-1).astype(np.float64)
        distance = ((ours[:, None, :] - theirs[None, :, :]) ** 2).sum(axis=-1)
    else:
        distance = np.abs(values[:, None] - targets[None, :]).astype(np.float64)
    return targets[distance.argmin(axis=1)][inverse].reshape(codes.shape)


def snap_mask(raw, targets):
    """A copy of a raw mask with every value snapped to the nearest of `targets` (codes)."""
    snapped = _nearest(_codes(raw), targets, raw.ndim == 3)
    if raw.ndim == 2:
        return snapped.astype(np.uint8)
    return np.stack([(snapped >> s) & 255 for s in (16, 8, 0)], axis=-1).astype(np.uint8)


def mask_files(root):
    """The mask files of a dataset folder (JPEG ones too: snapping rewrites them)."""
    from segcore.data.dataset import SPLITS
    from segcore.data.formats import IMAGE_EXTENSIONS

    folders = [root / s / "masks" for s in SPLITS if (root / s / "masks").is_dir()]
    folders = folders or [root / "masks"]
    return [p for folder in folders if folder.is_dir() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS]


def _targets(root, masks):
    """The codes to snap to: the declared classes (and void) if there is a classes.json, else
    the values that fill regions across all masks."""
    from segcore.data.classes import ClassMap
    from segcore.data.masks import read_raw_mask

    raws = {path: read_raw_mask(path) for path in masks}
    colour = any(raw.ndim == 3 for raw in raws.values())
    if (root / "classes.json").is_file():
        class_map = ClassMap.load(root / "classes.json")
        if colour:
            colours = list(class_map.colors) + (
                [class_map.void_color] if class_map.void_color is not None else [])
            targets = [(r << 16) | (g << 8) | b for r, g, b in colours]
        else:
            targets = list(class_map.values) + (
                [class_map.ignore_value] if class_map.ignore_value is not None else [])
        return raws, set(targets), colour
    return raws, {colour for colour, _ in solid_colours(raws.values())}, colour


def solid_colours(raws):
    """The values (or colours) that fill regions across masks, with their pixel shares.

    Args:
        raws: raw masks; gray ones among colour masks count as gray colours.

    Returns:
        [(code, share of all pixels)], most pixels first; colours coded r<<16 | g<<8 | b.
    """
    raws = list(raws)
    colour = any(raw.ndim == 3 for raw in raws)
    totals, noisy = {}, False
    for raw in raws:
        if colour and raw.ndim == 2:
            raw = np.repeat(raw[..., None], 3, axis=-1)
        stats, distinct, _ = value_stats(raw)
        noisy = noisy or _too_many_strays(distinct, len(solid_values(stats)))
        for key, (count, inside, representative) in stats.items():
            before = totals.get(key, (0, 0, representative, 0))
            # The bin's exact colour comes from the mask where the bin is largest.
            keep = representative if count > before[3] else before[2]
            totals[key] = (before[0] + count, before[1] + inside, keep, max(count, before[3]))
    total = sum(entry[0] for entry in totals.values()) or 1
    found = []
    for key in solid_values(totals):
        code, share = totals[key][2], totals[key][0] / total
        # In JPEG'd masks a class's shade differs a little from mask to mask; clean masks
        # keep close palette colours (even (1, 0, 0) and (2, 0, 0)) apart.
        near = [i for i, (kept, _) in enumerate(found)
                if noisy and _distance(kept, code) <= MERGE_DISTANCE]
        if near:  # one flat region that JPEG scattered over neighbouring bins
            found[near[0]] = (found[near[0]][0], found[near[0]][1] + share)
        else:
            found.append((code, share))
    if not colour:
        return found
    # Shares as snapping will make them: a JPEG'd region counts whole, not just its solid bins.
    targets = [code for code, _ in found]
    counts = dict.fromkeys(targets, 0)
    for raw in raws:
        codes = _codes(raw if raw.ndim == 3 else np.repeat(raw[..., None], 3, axis=-1))
        values, number = np.unique(_nearest(codes, targets, True), return_counts=True)
        for value, n in zip(values, number):
            counts[int(value)] += int(n)
    total = sum(counts.values()) or 1
    return sorted(((code, n / total) for code, n in counts.items()), key=lambda item: -item[1])


def _distance(a, b):
    return sum((x - y) ** 2 for x, y in zip(_rgb(a), _rgb(b))) ** 0.5


def snap_masks(root):
    """Snaps every mask of a dataset folder in place; JPEG masks are rewritten as PNG.

    Without a classes.json the values snapped to become the classes (declared in one when
    the masks alone would read otherwise).

    Only for a copy: callers pass a staging folder, never the user's data.

    Returns:
        The number of masks rewritten.
    """
    from PIL import Image

    root = Path(root)
    masks = mask_files(root)
    raws, targets, colour = _targets(root, masks)
    if not targets:
        raise DataError(f"{root.name}: no mask value fills a region; nothing to snap to.")
    if not (root / "classes.json").is_file():
        _declare(root, sorted(targets), colour)
    for path, raw in raws.items():
        if colour and raw.ndim == 2:
            raw = np.repeat(raw[..., None], 3, axis=-1)  # a gray mask among colour masks
        out = path.with_suffix(".png")
        Image.fromarray(snap_mask(raw, targets)).save(out)
        if out != path:
            path.unlink()
    return len(raws)


def _declare(root, targets, colour):
    """Writes the classes snapped to as classes.json where the masks alone would not say
    them (classes are inferred as 0..max, or background/foreground for 0/255)."""
    from segcore.data.classes import ClassMap

    if colour:
        rgb = [_rgb(code) for code in targets]
        ClassMap([f"class {i}" for i in range(1, len(rgb) + 1)], rgb).save(root / "classes.json")
    elif targets != [0, 255] and targets != list(range(len(targets))):
        ClassMap([f"class {v}" for v in targets], values=targets).save(root / "classes.json")


def snap_dataset(source, dest):
    """Writes a copy of a dataset with its masks snapped to their classes; `source` is kept.

    Args:
        source: a dataset folder.
        dest: the new dataset folder (must not exist).

    Returns:
        `dest` as a Path.

    Raises:
        DataError: `dest` exists, or no mask value fills a region.
    """
    source, dest = Path(source), Path(dest)
    if dest.exists():
        raise DataError(f"A dataset named {dest.name!r} exists already; pick another name.")
    staging = Path(tempfile.mkdtemp(prefix=".snap-", dir=dest.parent))
    try:
        shutil.copytree(source, staging / "data", symlinks=False)
        snap_masks(staging / "data")
        (staging / "data").rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest
