import numpy as np
import pytest

from segcore.data.augment import AugmentConfig, _warp, zoom_source
from segcore.data.paste import rare_classes
from segcore.data.pipeline import epoch_order, epoch_samples, train_dataset


def coded_pair(size=16, count=4):
    """Images whose pixels encode their mask label, so alignment is checkable after any warp."""
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 4, (count, size // 4, size // 4)).astype(np.uint8)
    masks = np.kron(blocks, np.ones((4, 4), np.uint8))
    images = np.repeat((masks[..., None].astype(np.float32) + 0.5) / 4.0, 3, axis=-1)
    return images, masks


@pytest.mark.parametrize("augment, crop", [
    (AugmentConfig(hflip=True, vflip=True, rot90=True), None),
    (AugmentConfig(hflip=True, scale_min=0.5), (8, 8)),
    (AugmentConfig(hflip=True, vflip=True, rot90=True, scale_min=0.6), None),
    (AugmentConfig(hflip=True, rot90=True, elastic=3.0), None),
    (AugmentConfig(hflip=False, scale_min=0.5, elastic=1.0), (8, 8)),
])
def test_every_mask_pixel_lines_up_with_its_image_pixel(augment, crop):
    images, masks = coded_pair()
    for batch_images, batch_masks in train_dataset(images, masks, 2, augment, seed=3, crop=crop):
        decoded = np.floor(batch_images.numpy()[..., 0] * 4.0).astype(np.int32)
        # Bilinear resizing blends labels at region borders: compare where the image is pure.
        pure = np.abs(batch_images.numpy()[..., 0] * 4.0 - decoded - 0.5) < 1e-4
        assert pure.mean() > 0.3
        assert (decoded[pure] == batch_masks.numpy()[pure]).all()


def test_a_whole_image_scale_crop_zooms_into_a_window_of_scale_to_1_of_its_sides():
    # Pixels hold their column (0..1 across the image): a batch row's span is the window's.
    height, width = 24, 40
    columns = np.linspace(0.0, 1.0, width, dtype=np.float32)
    images = np.broadcast_to(columns[None, :, None], (8, height, width, 3)).copy()
    masks = np.zeros((8, height, width), np.uint8)
    augment = AugmentConfig(hflip=False, scale_min=0.6)
    spans = [row[-1] - row[0] for batch, _ in train_dataset(images, masks, 4, augment, seed=2,
                                                            epochs=3)
             for row in batch.numpy()[:, height // 2, :, 0]]
    assert len(spans) == 24
    assert all(0.6 - 0.06 <= span <= 1.0 + 1e-6 for span in spans)
    assert sum(span < 0.9 for span in spans) >= 6  # zoomed, not the whole image every time


def test_whole_images_kept_larger_give_batches_of_the_training_size_from_real_pixels():
    # 48x64 images kept for a 24x32 training size with zooms down to half the side.
    fine = np.indices((48, 64)).sum(axis=0) % 2  # a checkerboard of single pixels
    images = np.repeat(fine[None, ..., None], 4, axis=0).repeat(3, axis=-1).astype(np.float32)
    masks = np.repeat(fine[None], 4, axis=0).astype(np.uint8)
    zoomed = AugmentConfig(hflip=False, scale_min=0.5)
    batches = list(train_dataset(images, masks, 4, zoomed, seed=1, epochs=4, size=(24, 32)))
    assert all(b[0].shape == (4, 24, 32, 3) and b[1].shape == (4, 24, 32) for b in batches)
    # A window of the stored pixels at (nearly) 1:1 keeps the checkerboard's single-pixel
    # alternation in its masks, which a stored image of the training size would not have.
    labels = np.concatenate([b[1].numpy() for b in batches])
    alternating = (np.diff(labels, axis=2) != 0).mean(axis=(1, 2))
    assert alternating.max() > 0.9


def test_the_zoom_source_holds_the_smallest_window_at_the_training_size():
    assert zoom_source((152, 200), (360, 480), 0.75) == (203, 267)
    assert zoom_source((144, 192), (360, 480), 0.75) == (192, 256)  # 144 / 0.75 is 192
    assert zoom_source((300, 400), (360, 480), 0.5) == (360, 480)  # no more than native
    assert zoom_source((400, 500), (360, 480), 0.5) == (400, 500)  # never below the size
    assert zoom_source((152, 200), (360, 480), 1.0) == (152, 200)  # no scale-crop


def test_epochs_replay_exactly_and_differ_between_epochs():
    images, masks = coded_pair(count=8)
    augment = AugmentConfig(hflip=True, vflip=True, brightness=0.1, contrast=0.1)
    first = [b[0].numpy() for b in train_dataset(images, masks, 4, augment, seed=1, epoch=2)]
    again = [b[0].numpy() for b in train_dataset(images, masks, 4, augment, seed=1, epoch=2)]
    other = [b[0].numpy() for b in train_dataset(images, masks, 4, augment, seed=1, epoch=3)]
    assert all((a == b).all() for a, b in zip(first, again))
    assert any((a != b).any() for a, b in zip(first, other))
    assert sorted(epoch_order(8, 1, 2)) == list(range(8))


def test_a_run_long_dataset_gives_each_epochs_own_batches_in_turn():
    # 10 samples in batches of 4: each epoch drops its own last 2, so no batch straddles two.
    images, masks = coded_pair(count=10)
    augment = AugmentConfig(hflip=True, scale_min=0.7, brightness=0.1)
    run = [(b[0].numpy(), b[1].numpy())
           for b in train_dataset(images, masks, 4, augment, seed=7, epoch=2, epochs=3)]
    alone = [(b[0].numpy(), b[1].numpy()) for epoch in (2, 3, 4)
             for b in train_dataset(images, masks, 4, augment, seed=7, epoch=epoch)]
    assert len(run) == len(alone) == 6
    for (image, mask), (image_alone, mask_alone) in zip(run, alone):
        assert (image == image_alone).all() and (mask == mask_alone).all()


def test_epoch_samples_follow_each_epochs_order_without_its_partial_batch():
    pairs = [tuple(int(v) for v in pair) for pair in epoch_samples(7, 3, 5, 4, 6)]
    expected = [(epoch, int(i)) for epoch in (4, 5) for i in epoch_order(7, 5, epoch)[:6]]
    assert pairs == expected
    with pytest.raises(ValueError, match="do not fill one batch"):
        epoch_samples(3, 4, 0, 0, 1)


def test_elastic_deformation_moves_pixels_and_keeps_labels_whole():
    images, masks = coded_pair(size=32, count=4)
    plain = list(train_dataset(images, masks, 4, AugmentConfig(hflip=False), seed=5))
    warped = list(train_dataset(images, masks, 4, AugmentConfig(hflip=False, elastic=4.0),
                                seed=5))
    again = list(train_dataset(images, masks, 4, AugmentConfig(hflip=False, elastic=4.0),
                               seed=5))
    moved = (plain[0][1].numpy() != warped[0][1].numpy()).mean()
    assert 0.02 < moved < 0.6  # deformed, not scrambled
    assert set(np.unique(warped[0][1].numpy())) <= set(np.unique(masks))  # never blended
    assert (warped[0][0].numpy() == again[0][0].numpy()).all()  # replays exactly


def test_rare_classes_are_those_under_the_share_and_present():
    assert rare_classes([900, 60, 40, 0], 0.05) == (2,)
    assert rare_classes([900, 60, 40, 0], 0.1) == (1, 2)
    assert rare_classes([900, 60, 40, 0], 0.0) == ()
    assert rare_classes([0, 0], 0.5) == ()


def test_rare_class_paste_copies_the_previous_samples_rare_pixels_and_nothing_else():
    images, masks = coded_pair(size=16, count=4)
    masks = np.where(masks == 3, 2, masks)  # no class 3 anywhere...
    masks[1, 2:5, 3:4] = 3  # ...but a thin "pole" in sample 1
    images = np.repeat((masks[..., None].astype(np.float32) + 0.5) / 4.0, 3, axis=-1)
    images[..., 0] += np.arange(4, dtype=np.float32)[:, None, None]  # which sample a pixel is
    plain = list(train_dataset(images, masks, 4, AugmentConfig(hflip=False), seed=1))
    pasted = list(train_dataset(images, masks, 4, AugmentConfig(hflip=False), seed=1,
                                paste=(3,)))
    (p_images, p_masks), = [(i.numpy(), m.numpy()) for i, m in plain]
    (q_images, q_masks), = [(i.numpy(), m.numpy()) for i, m in pasted]
    donor = int(np.flatnonzero((p_masks == 3).any(axis=(1, 2)))[0])  # where sample 1 went
    target = (donor + 1) % 4
    pole = p_masks[donor] == 3
    assert (q_masks[target][pole] == 3).all()  # the label came along...
    np.testing.assert_array_equal(q_images[target][pole], p_images[donor][pole])  # ...its pixels
    np.testing.assert_array_equal(q_masks[target][~pole], p_masks[target][~pole])  # the rest stays
    np.testing.assert_array_equal(q_images[target][~pole], p_images[target][~pole])
    others = [i for i in range(4) if i != target]
    np.testing.assert_array_equal(q_masks[others], p_masks[others])
    again = list(train_dataset(images, masks, 4, AugmentConfig(hflip=False), seed=1, paste=(3,)))
    np.testing.assert_array_equal(again[0][0].numpy(), q_images)  # replays exactly


def test_warp_reads_mirrored_pixels_past_the_border():
    import tensorflow as tf

    image = np.arange(5, dtype=np.float32).reshape(1, 5, 1)
    still = _warp(tf.constant(image), tf.zeros([1, 5, 2]), nearest=False).numpy()
    assert (still == image).all()
    field = np.zeros([1, 5, 2], np.float32)
    field[..., 1] = -2.0  # every pixel reads two to its left
    shifted = _warp(tf.constant(image), tf.constant(field), nearest=False).numpy()
    assert shifted[0, :, 0].tolist() == [2, 1, 0, 1, 2]
    field[..., 1] = 0.5
    half = _warp(tf.constant(image), tf.constant(field), nearest=False).numpy()
    assert half[0, :, 0].tolist() == [0.5, 1.5, 2.5, 3.5, 3.5]


def _colour_pairs(channels, count=8, size=8):
    rng = np.random.default_rng(4)
    images = rng.uniform(0.35, 0.65, (count, size, size, channels)).astype(np.float32)  # unclipped
    return images, np.zeros((count, size, size), np.uint8)


def _one_epoch(images, masks, augment):
    """The epoch's images, and the inputs in the order the epoch drew them."""
    out = np.concatenate([b[0].numpy() for b in train_dataset(images, masks, 4, augment, seed=2)])
    return out, images[epoch_order(len(images), 2, 0)]


def test_saturation_scales_each_pixels_colour_about_its_gray():
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    jittered, images = _one_epoch(*_colour_pairs(3), AugmentConfig(hflip=False, saturation=0.5))
    assert np.allclose(jittered @ luma, images @ luma, atol=1e-5)  # the gray is kept
    gray = (images @ luma)[..., None]
    colour, scaled = (images - gray).reshape(len(images), -1), (jittered - gray).reshape(
        len(images), -1)
    factors = (colour * scaled).sum(1) / (colour * colour).sum(1)  # least squares, per image
    assert np.allclose(scaled, factors[:, None] * colour, atol=1e-5)  # one factor an image
    assert ((factors >= 0.5 - 1e-4) & (factors <= 1.5 + 1e-4)).all()
    assert np.ptp(factors) > 0.1  # drawn per image
    # The other draws stay as they were: saturation added to brightness leaves its shifts.
    shifted, _ = _one_epoch(*_colour_pairs(3), AugmentConfig(hflip=False, brightness=0.1,
                                                             saturation=0.5))
    plain, _ = _one_epoch(*_colour_pairs(3), AugmentConfig(hflip=False, brightness=0.1))
    assert np.allclose(shifted @ luma, plain @ luma, atol=1e-5)


@pytest.mark.parametrize("channels", [1, 4])
def test_saturation_leaves_images_that_are_not_rgb_alone(channels):
    out, images = _one_epoch(*_colour_pairs(channels), AugmentConfig(hflip=False, saturation=0.9))
    assert np.allclose(out, images)


def test_label_shares_keep_a_line_thinner_than_a_pixel_that_nearest_drops():
    from segcore.data.pipeline import class_pixel_counts, resize_pair
    from segcore.data.shrink import SHARE_SCALE, label_shares

    mask = np.zeros((8, 8), np.uint8)
    mask[:, 3] = 1  # a 1-pixel line of class 1
    mask[0, 0] = 255  # one void pixel
    shares = label_shares(mask, 2, (4, 4))
    assert shares.shape == (4, 4, 3) and shares.dtype == np.uint8
    # The line falls in output column 1, where it is half of each 2x2 footprint.
    assert (np.abs(shares[:, 1, 1].astype(int) - SHARE_SCALE // 2) <= 1).all()
    assert (shares[:, [0, 2, 3], 1] == 0).all()
    assert shares[0, 0, 2] == round(SHARE_SCALE / 4)  # void's quarter of the corner
    assert (np.abs(shares.sum(axis=-1).astype(int) - SHARE_SCALE) <= 1).all()
    _, nearest = resize_pair(np.zeros((8, 8, 3), np.float32), mask, (4, 4))
    assert (nearest == 1).sum() == 0  # nearest neighbour samples columns 0, 2, 4, 6
    counts = class_pixel_counts(shares[None], 2)
    assert counts.tolist() == [round(3 * 4 * 1.0 + 4 * 0.5 - 0.25), 2]


def test_share_masks_go_through_every_augmentation_as_shares():
    images, masks = coded_pair()
    shares = np.stack([masks == c for c in range(4)] + [masks == 255], -1).astype(np.uint8) * 255
    augment = AugmentConfig(hflip=True, vflip=True, rot90=True, elastic=2.0, scale_min=0.6)
    for batch_images, batch_shares in train_dataset(images, shares, 2, augment, seed=3):
        values = batch_shares.numpy()
        assert values.shape == (2, 16, 16, 5) and values.dtype == np.float32
        assert values.min() >= 0 and values.max() <= 1
        np.testing.assert_allclose(values.sum(-1), 1.0, atol=0.02)
        decoded = np.floor(batch_images.numpy()[..., 0] * 4.0).astype(np.int32)
        pure = np.abs(batch_images.numpy()[..., 0] * 4.0 - decoded - 0.5) < 1e-4
        assert pure.mean() > 0.3
        assert (values.argmax(-1)[pure] == decoded[pure]).all()
    with pytest.raises(ValueError, match="paste"):
        train_dataset(images, shares, 2, augment, paste=(1,))
