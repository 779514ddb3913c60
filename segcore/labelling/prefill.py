"""A run's prediction as the starting mask of an image, exactly as `segcore predict` writes it."""

from segcore.errors import DataError


def fits_classes(run_map, dataset_map):
    """Whether a run's labels mean the dataset's classes (the same names for the same values)."""
    return run_map.names == dataset_map.names and run_map.values == dataset_map.values


def same_classes(run_map, dataset_map, run_label):
    """Refuses a run whose classes are not the dataset's (its labels would mean other classes).

    Raises:
        DataError: naming the run and both class lists.
    """
    if not fits_classes(run_map, dataset_map):
        raise DataError(
            f"{run_label} was trained on the classes {run_map.names} (values {run_map.values}) "
            f"but the dataset has {dataset_map.names} (values {dataset_map.values}); pick a run "
            "trained on this dataset's classes.")


def predicted_labels(predictor, image_path):
    """The training labels `python -m segcore predict` writes for an image (its `_mask.png`).

    Args:
        predictor: a `segcore.inference.RunPredictor`.
        image_path: the image file.

    Returns:
        uint8 labels (H, W) at the image's own size.
    """
    # The same reading and call as predict_command (RGB or the run's bands), so the pre-fill
    # is what predict writes.
    return predictor.predict(predictor.read(image_path, compact=True))
