"""--auto: the settings chosen from a made-up fingerprint (a pure function of it)."""

from dataclasses import replace

import pytest

from segcore.models import model_stride
from segcore.training.auto import Fingerprint, choose_settings
from segcore.training.auto.choose import small_objects
from segcore.training.config import RunConfig


def made_up(**fields):
    """A fingerprint of 200 RGB images of 360x480, 4 balanced classes, nothing thin."""
    base = dict(train_images=200, val_images=50, median_size=(360, 480),
                min_size=(360, 480), max_size=(360, 480), channels=3, num_classes=4,
                class_names=("a", "b", "c", "d"), class_shares=(0.3, 0.3, 0.2, 0.2),
                thin_classes=(), sampled_masks=48, cached_encoders=())
    base.update(fields)
    return Fingerprint(**base)


def chosen(fp, minutes=15, cores=2, given=None, speed=None):
    return {c.path: c for c in choose_settings(fp, minutes, cores, given, speed=speed)}


def as_config(choices):
    """The RunConfig the choices make: it must validate (sizes fit the stride, crop fits)."""
    data = RunConfig().to_json()
    data["hparams"], data["augment"] = {}, dict(data["augment"])
    for path, choice in choices.items():
        head, _, tail = path.partition(".")
        value = list(choice.value) if isinstance(choice.value, tuple) else choice.value
        if tail:
            data[head][tail] = value
        else:
            data[head] = value
    return RunConfig.from_json(data).validate()


def test_every_choice_has_a_reason_and_makes_a_valid_config():
    choices = chosen(made_up())
    assert all(c.reason and not c.given for c in choices.values())
    assert {"model", "img_size", "batch_size", "lr", "schedule", "class_weights", "loss",
            "augment.hflip", "time_budget_min", "epochs"} <= set(choices)
    config = as_config(choices)
    assert config.time_budget_min == 15
    assert config.jit == "off" and "0.582 against 0.584" in choices["jit"].reason
    assert chosen(made_up(), given={"jit": "xla"})["jit"].value == "xla"  # given wins
    assert config.label_smoothing == 0.1 and "6 seeds" in choices["label_smoothing"].reason
    plain = chosen(made_up(), given={"label_smoothing": 0.0})
    assert as_config(plain).label_smoothing == 0.0 and plain["label_smoothing"].given
    dice = chosen(made_up(), given={"loss": "dice"})  # no cross-entropy term to smooth
    assert as_config(dice).label_smoothing == 0.0
    assert "no cross-entropy" in dice["label_smoothing"].reason


def test_prediction_tta_is_multi_scale_for_whole_colour_images_and_flip_otherwise():
    scenes = chosen(made_up())  # RGB scenes trained on whole resized images
    assert scenes["crop"].value is None and scenes["predict_tta"].value == "auto"
    assert "validation stays plain" in scenes["predict_tta"].reason
    assert "0.609 against 0.592" in scenes["predict_tta"].reason
    assert "0.39 against flip's 0.90" in scenes["predict_tta"].reason
    assert as_config(scenes).predict_tta == "auto"
    gray = made_up(train_images=25, val_images=5, median_size=(512, 512), min_size=(512, 512),
                   max_size=(512, 512), channels=1, num_classes=2,
                   class_names=("membrane", "cell"), class_shares=(0.22, 0.78),
                   thin_classes=(0,))
    crops = chosen(gray, minutes=4, given={"model": "unet"})
    assert crops["crop"].value is not None and crops["predict_tta"].value == "flip"
    whole = chosen(gray, minutes=4)  # U-Net+ReNet on whole slices: flip too (scales lost)
    assert whole["crop"].value is None and whole["predict_tta"].value == "flip"
    assert chosen(gray, minutes=4, given={"predict_tta": "off"})["predict_tta"].given
    assert as_config(chosen(made_up(), given={"predict_tta": "off"})).predict_tta == "off"


def test_a_cpu_with_native_bfloat16_trains_in_it_and_on_more_pixels_unless_told_otherwise():
    plain, fast = chosen(made_up()), chosen(made_up(native_bfloat16=True))
    assert plain["precision"].value == "float32" and "no native bfloat16" in plain[
        "precision"].reason
    assert fast["precision"].value == "bfloat16" and "1.6x" in fast["precision"].reason
    area = lambda c: c["img_size"].value[0] * c["img_size"].value[1]  # noqa: E731
    assert area(fast) > 1.4 * area(plain)  # the budget buys 1.6x the pixels
    assert "in bfloat16" in fast["img_size"].reason
    assert as_config(fast).precision == "bfloat16"
    told = chosen(made_up(native_bfloat16=True), given={"precision": "float32"})
    assert told["precision"].given and told["precision"].value == "float32"
    assert told["img_size"].value == plain["img_size"].value


def test_a_tiny_dataset_gets_a_shallow_model_small_batches_and_its_native_size():
    fp = made_up(train_images=12, val_images=3, median_size=(32, 32), min_size=(24, 24),
                 max_size=(40, 40), channels=3, num_classes=2, class_names=("bg", "fg"),
                 class_shares=(0.6, 0.4))
    choices = chosen(fp, minutes=5)
    assert choices["model"].value == "unet"
    assert choices["hparams.depth"].value == 2  # 24 px: 4 poolings would leave 1.5 px
    assert choices["img_size"].value == (32, 32)  # the budget allows the native size
    assert choices["batch_size"].value == 1  # 12 images: 10 steps per epoch at least
    assert choices["lr"].value == 1e-3
    assert as_config(choices).img_size == (32, 32)


def test_huge_images_are_shrunk_to_the_budget_and_memory_with_a_fitting_stride():
    fp = made_up(train_images=40, val_images=10, median_size=(4000, 6000),
                 min_size=(3000, 4000), max_size=(4000, 6000))
    choices = chosen(fp, minutes=10)
    height, width = choices["img_size"].value
    stride = model_stride(choices["model"].value)
    assert height % stride == 0 and width % stride == 0
    assert height * width * 50 <= 160e6  # what load_arrays keeps in memory
    assert height < 1000 and abs(width / height - 1.5) < 0.1  # the aspect ratio is kept
    assert "x the median 4000x6000" in choices["img_size"].reason
    as_config(choices)


def test_more_images_than_memory_holds_train_on_streamed_patches_at_a_scale():
    fp = made_up(train_images=5000, val_images=500, median_size=(2000, 2000),
                 min_size=(2000, 2000), max_size=(2000, 2000))
    choices = chosen(fp, minutes=600)
    side = choices["patch"].value[0]
    assert choices["patch"].value == (side, side) and 128 <= side <= 512
    assert 0.05 <= choices["scale"].value < 1 and choices["crop"].value is None
    assert "do not fit" in choices["patch"].reason
    config = as_config(choices)
    assert config.patch == (side, side) and config.crop is None
    page = {c.path: c for c in choose_settings(fp, 600, 2, patches=False)}
    assert "patch" not in page and page["img_size"].value[0] < 2000  # shrunk to fit instead
    assert choices["label_resize"].value == "majority"  # patches take labels
    assert page["label_resize"].value == "shares"  # whole images in memory


def test_huge_images_with_thin_classes_keep_native_pixels_in_crops_when_the_budget_allows():
    fp = made_up(train_images=25, val_images=5, median_size=(512, 512), min_size=(512, 512),
                 max_size=(512, 512), channels=3, num_classes=2, class_names=("membrane", "cell"),
                 class_shares=(0.22, 0.78), thin_classes=(0,))
    choices = chosen(fp, minutes=4)
    assert choices["img_size"].value == (512, 512)
    side = choices["crop"].value[0]
    assert choices["crop"].value == (side, side) and 256 <= side < 512
    assert "membrane" in choices["img_size"].reason
    assert as_config(choices).crop == (side, side)


def test_gray_images_on_a_slow_machine_keep_native_pixels_in_small_crops_and_scenes_do_not():
    gray = dict(train_images=25, val_images=5, median_size=(512, 512), min_size=(512, 512),
                max_size=(512, 512), num_classes=2, class_names=("membrane", "cell"),
                class_shares=(0.22, 0.78), thin_classes=(0,))

    def slow(model, precision):
        return 1.6e5  # a budget of about 0.4x the native side for 30 epochs in 4 min

    texture = chosen(made_up(channels=1, **gray), minutes=4, speed=slow)
    side = texture["crop"].value[0]
    assert texture["img_size"].value == (512, 512) and 128 <= side < 256
    assert "texture more than scene" in texture["crop"].reason
    assert as_config(texture).crop == (side, side)
    scene = chosen(made_up(channels=3, **gray), minutes=4, speed=slow)
    assert scene["model"].value == "unet" and scene["crop"].value is None
    assert scene["img_size"].value[0] < 256 and "little of each scene" in scene["crop"].reason
    tiny = chosen(made_up(channels=1, **gray), minutes=1, speed=slow)  # under a quarter
    assert tiny["crop"].value is None and tiny["img_size"].value[0] < 128


def test_gray_images_train_unet_renet_whole_when_the_budget_keeps_most_of_their_side():
    gray = made_up(train_images=25, val_images=5, median_size=(512, 512), min_size=(512, 512),
                   max_size=(512, 512), channels=1, num_classes=2,
                   class_names=("membrane", "cell"), class_shares=(0.22, 0.78),
                   thin_classes=(0,))
    asked = []

    def rate(pixels):
        def speed(model, precision):
            asked.append(model)
            return pixels
        return speed

    # 4.5e5 px/s: whole slices at 0.66 of their side for 30 epochs in 4 minutes.
    choices = chosen(gray, minutes=4, speed=rate(4.5e5))
    assert asked == ["unet-renet"]  # asked once, for the family and the size alike
    assert choices["model"].value == "unet-renet" and choices["crop"].value is None
    assert "at 0.66 of their side" in choices["model"].reason
    assert "0.793" in choices["model"].reason
    assert choices["img_size"].value == (336, 336) and choices["hparams.depth"].value == 4
    assert choices["augment.rot90"].value and choices["predict_tta"].value == "flip"
    assert as_config(choices).model == "unet-renet"
    # 3.3e5 px/s: 0.57 of the side; resized slices lose the membranes, U-Net crops keep them.
    asked.clear()
    slow = chosen(gray, minutes=4, speed=rate(3.3e5))
    assert asked == ["unet-renet", "unet"]
    assert slow["model"].value == "unet" and slow["crop"].value is not None
    assert "0.57 of their side" in slow["model"].reason
    # A given family or crop is kept, and the recurrent family is not even timed.
    asked.clear()
    for given in ({"model": "unet"}, {"crop": (256, 256)}):
        kept = chosen(gray, minutes=4, given=given, speed=rate(4.5e5))
        assert kept["model"].value == "unet"
    assert "unet-renet" not in asked
    # Colour images of the same kind stay with U-Net.
    assert chosen(replace(gray, channels=3), minutes=4, speed=rate(4.5e5))[
        "model"].value == "unet"


def test_thin_classes_in_scenes_for_recurrent_sweeps_are_resized_not_cropped():
    scenes = made_up(num_classes=11, class_names=tuple("abcdefghijk"),
                     class_shares=(0.1,) * 10 + (0.0,), thin_classes=(2, 9), train_images=367,
                     native_bfloat16=True)
    choices = chosen(scenes, minutes=15)
    assert choices["model"].value == "reseg"
    assert choices["crop"].value is None and "recurrent sweeps" in choices["crop"].reason
    assert choices["img_size"].value[0] < 360  # resized by the budget instead
    cnn = chosen(scenes, minutes=15, given={"model": "unet"})
    assert cnn["crop"].value is not None and cnn["img_size"].value[1] == 480  # native
    # Zooming into whole images lost on CamVid; crops are cut larger and shrunk, as measured.
    assert choices["augment.scale_min"].value == 1.0
    assert "no scale-crop on whole images" in choices["augment.scale_min"].reason
    assert cnn["augment.scale_min"].value == 0.75
    zoomed = chosen(scenes, minutes=15, given={"augment.scale_min": 0.6})
    assert zoomed["augment.scale_min"].value == 0.6 and zoomed["augment.scale_min"].given


def test_thin_classes_keep_a_third_of_the_side_for_a_recurrent_family_while_epochs_allow():
    scenes = made_up(num_classes=11, class_names=tuple("abcdefghijk"),
                     class_shares=(0.1,) * 10 + (0.0,), thin_classes=(2, 9), train_images=367,
                     val_images=101)

    def rate(pixels):
        return lambda model, precision: pixels

    def plain(pixels):  # the epochs rule alone
        return chosen(replace(scenes, thin_classes=()), speed=rate(pixels))["img_size"].value

    assert plain(1.9e5) == (96, 128)  # ~0.27 of the side
    thin = chosen(scenes, speed=rate(1.9e5))
    assert thin["model"].value == "reseg" and thin["img_size"].value == (120, 160)
    assert "keep a third of the side" in thin["img_size"].reason
    assert "about 19 epochs" in thin["img_size"].reason
    slower = chosen(scenes, speed=rate(1.4e5))["img_size"].value  # 18 epochs bound it
    assert plain(1.4e5)[0] < slower[0] < 120
    assert chosen(scenes, minutes=60, speed=rate(1.9e5))["img_size"].value[0] > 120
    given = chosen(scenes, given={"img_size": (96, 128)}, speed=rate(1.9e5))
    assert given["img_size"].value == (96, 128)
    unet = chosen(scenes, given={"model": "unet"}, speed=rate(1.9e5))
    assert "third" not in unet["img_size"].reason  # convolutional families crop or resize
    assert as_config(thin).img_size == (120, 160)


def test_a_recurrent_family_spends_the_bfloat16_speed_up_on_epochs_not_pixels():
    scenes = dict(num_classes=11, class_names=tuple("abcdefghijk"),
                  class_shares=(0.1,) * 10 + (0.0,), train_images=367)
    plain = chosen(made_up(**scenes), minutes=15)
    fast = chosen(made_up(native_bfloat16=True, **scenes), minutes=15)
    assert fast["model"].value == plain["model"].value == "reseg"
    assert fast["precision"].value == "bfloat16"
    assert fast["img_size"].value == plain["img_size"].value  # the same pixels per epoch
    assert "about 48 epochs" in fast["img_size"].reason and "buys epochs" in fast[
        "img_size"].reason
    assert "about 30 epochs" in plain["img_size"].reason
    # The expected epochs (the schedule's warm-up and the ceiling) follow the speed-up.
    assert fast["epochs"].value > plain["epochs"].value


def test_a_long_budget_buys_a_recurrent_family_epochs_as_well_as_pixels():
    scenes = made_up(num_classes=11, class_names=tuple("abcdefghijk"),
                     class_shares=(0.1,) * 10 + (0.0,), train_images=367, native_bfloat16=True)
    # A machine on which 60 minutes train 48 epochs of the native 360x480.
    rate = 48 * 367 * 360 * 480 / (60 * 60 * 0.8)
    long = chosen(scenes, minutes=60, speed=lambda model, precision: rate)
    assert long["model"].value == "reseg"
    height, width = long["img_size"].value
    # Twice the 15-minute rule's 48 epochs: half the pixels per image.
    assert height * width == pytest.approx(0.5 * 360 * 480, rel=0.05)
    assert "about 96 epochs" in long["img_size"].reason
    assert "4x a 15-minute budget buys 2x its epochs" in long["img_size"].reason
    short = chosen(scenes, minutes=15, speed=lambda model, precision: rate)
    assert "about 48 epochs" in short["img_size"].reason  # 15 minutes: as before
    assert "budget buys" not in short["img_size"].reason
    unet = chosen(replace(scenes, thin_classes=()), minutes=60, given={"model": "unet"},
                  speed=lambda model, precision: rate)
    assert unet["img_size"].value[1] == 480  # convolutional families: pixels first (native)
    assert as_config(long).img_size == (height, width)


def test_extreme_imbalance_gets_median_weights_and_a_dice_term():
    fp = made_up(class_shares=(0.9994, 0.0003, 0.0002, 0.0001))
    choices = chosen(fp)
    assert choices["class_weights"].value == "median"
    assert choices["loss"].value == "ce+dice"
    assert "d" in choices["class_weights"].reason  # names the rarest class
    # Half of the weights' push toward rare classes is taken back at prediction.
    # The share stays fixed: fitting it (--prior-fit train) was not shown to help (RESULTS.md).
    assert choices["prior_correction"].value == 0.5 and "prior_fit" not in choices
    mild = chosen(made_up(class_shares=(0.4, 0.3, 0.2, 0.1)))
    assert mild["class_weights"].value == "none" and mild["loss"].value == "ce"
    assert "prior_correction" not in mild


def test_rare_classes_of_small_objects_are_named_but_not_pasted_unless_asked():
    names = ("sky", "road", "pole", "sign", "pedestrian", "fence")
    scene = made_up(num_classes=6, class_names=names,
                    class_shares=(0.5, 0.455, 0.015, 0.01, 0.005, 0.015),
                    object_sizes=(0.2, 0.3, 0.003, 0.006, 0.004, 0.04))
    assert small_objects(scene) == (2, 3, 4)  # rare and small; the fence spans its scene
    choices = chosen(scene)
    # Measured: pasting them cost 0.026 on a slow CPU and tied on a fast one.
    assert choices["augment.paste"].value == () and as_config(choices).augment.paste == []
    assert "pole, sign, pedestrian are rare classes of small objects" in choices[
        "augment.paste"].reason
    assert "--paste 'pole,sign,pedestrian'" in choices["augment.paste"].line()
    assert choices["augment.paste_rare"].value == 0.0  # by share alone it cost 0.03
    assert "cost" in choices["augment.paste_rare"].reason
    asked = chosen(scene, given={"augment.paste_rare": 0.02, "augment.paste": ("pole",)})
    assert asked["augment.paste_rare"].given and as_config(asked).augment.paste_rare == 0.02
    assert asked["augment.paste"].given and as_config(asked).augment.paste == ["pole"]
    # Small objects that are common (cells filling a slide) and a fingerprint that predates
    # object sizes: none.
    cells = made_up(num_classes=2, class_names=("cell", "membrane"), class_shares=(0.8, 0.2),
                    object_sizes=(0.005, 0.6), channels=1)
    assert small_objects(cells) == () and "no class" in chosen(cells)["augment.paste"].reason
    assert small_objects(replace(scene, object_sizes=())) == ()


def test_many_colour_classes_get_reseg_and_absent_classes_are_named():
    names = tuple(f"c{i}" for i in range(30))
    shares = tuple([0.0] + [1 / 29] * 29)
    choices = chosen(made_up(num_classes=30, class_names=names, class_shares=shares))
    assert choices["model"].value == "reseg"
    assert "c0 absent" in choices["class_weights"].reason
    as_config(choices)


def test_one_channel_gets_flips_and_quarter_turns_and_no_pretrained_encoder():
    fp = made_up(channels=1, median_size=(256, 256), min_size=(256, 256),
                 max_size=(256, 256), cached_encoders=("mobilenet_v2",))
    choices = chosen(fp)
    assert not fp.pretrained_available
    assert choices["model"].value == "unet-renet" and "hparams.encoder" not in choices
    assert choices["augment.vflip"].value and choices["augment.rot90"].value
    assert choices["augment.brightness"].value == choices["augment.contrast"].value == 0.0
    rgb = chosen(made_up(cached_encoders=("mobilenet_v2",)))
    assert rgb["model"].value == "deeplabv3plus"
    assert rgb["hparams.encoder"].value == "mobilenet_v2"
    assert rgb["hparams.encoder_weights"].value == "imagenet"
    assert not rgb["augment.vflip"].value


def test_given_settings_win_and_the_rest_is_chosen_around_them():
    fp = made_up(num_classes=8, class_names=tuple("abcdefgh"), class_shares=(0.125,) * 8)
    free = chosen(fp)
    given = {"model": "unet", "hparams.depth": 5, "lr": 0.01, "augment.hflip": False}
    choices = chosen(fp, given=given)
    for path, value in given.items():
        assert choices[path].value == value and choices[path].given
        assert choices[path].reason == "given"
    assert free["model"].value == "reseg"
    height, width = choices["img_size"].value
    assert height % 32 == 0 and width % 32 == 0  # the stride of the given depth 5
    assert as_config(choices).hparams["depth"] == 5


def test_a_given_hyperparameter_picks_a_family_that_has_it():
    fp = made_up(num_classes=8, class_names=tuple("abcdefgh"), class_shares=(0.125,) * 8)
    assert chosen(fp)["model"].value == "reseg"
    choices = chosen(fp, given={"hparams.depth": 3})
    assert choices["model"].value == "unet" and "--depth given" in choices["model"].reason
    assert as_config(choices).hparams["depth"] == 3


def test_no_budget_chooses_the_default_and_says_so():
    choice = chosen(made_up(), minutes=0)["time_budget_min"]
    assert choice.value == 15 and "no time budget given" in choice.reason


def test_more_time_or_cores_train_at_a_larger_size():
    fp = made_up()
    small = chosen(fp, minutes=5)["img_size"].value
    large = chosen(fp, minutes=60)["img_size"].value
    more_cores = chosen(fp, minutes=5, cores=16)["img_size"].value
    assert small[0] < large[0] and small[0] < more_cores[0]


def test_a_measured_slower_machine_trains_smaller_images_and_says_it_measured():
    asked = []

    def slow(model, precision):
        asked.append((model, precision))
        return 1.5e5  # training px/s of the whole machine: a third of the constants' 2 cores

    scenes = dict(num_classes=11, class_names=tuple("abcdefghijk"),
                  class_shares=(0.1,) * 10 + (0.0,))
    assumed, measured = chosen(made_up(**scenes)), chosen(made_up(**scenes), speed=slow)
    assert asked == [("reseg", "float32")]
    small, large = measured["img_size"].value, assumed["img_size"].value
    assert small[0] * small[1] < 0.5 * large[0] * large[1]
    assert "measured 1.5e+05 training px/s" in measured["img_size"].reason
    assert "measured" not in assumed["img_size"].reason
    fast = chosen(made_up(**scenes), speed=lambda model, precision: 1e9)
    assert fast["img_size"].value == (360, 480)  # the budget allows the native size
    untimed = chosen(made_up(**scenes), speed=lambda model, precision: None)  # machine busy
    assert untimed["img_size"].value == large
    assert "a run was training, so this machine was not timed" in untimed["img_size"].reason
    given = chosen(made_up(**scenes), given={"img_size": (96, 128)}, speed=slow)
    assert given["img_size"].value == (96, 128) and given["img_size"].given
    assert as_config(measured).img_size == small


def test_masks_that_shrink_train_on_shares_or_the_majority_and_native_ones_stay_nearest():
    scenes = chosen(made_up(thin_classes=(2,)))  # 360x480 scenes shrunk to fit 15 minutes
    assert scenes["img_size"].value[0] < 360 and scenes["loss"].value == "ce"
    assert scenes["label_resize"].value == "shares"
    assert "footprint" in scenes["label_resize"].reason
    assert as_config(scenes).label_resize == "shares"
    for given, why in (({"loss": "dice"}, "dice loss takes labels"),
                       ({"augment.paste": ("c",)}, "pasting copies labels"),
                       ({"prior_fit": "train"}, "prior fit counts labels")):
        choices = chosen(made_up(), given=given)
        assert choices["label_resize"].value == "majority", given
        assert why in choices["label_resize"].reason
        as_config(choices)
    many = chosen(made_up(train_images=20_000, num_classes=150,
                          class_names=tuple(map(str, range(150))),
                          class_shares=(1 / 150,) * 150))
    assert many["label_resize"].value == "majority" and "GiB" in many["label_resize"].reason
    small = made_up(median_size=(64, 96), min_size=(64, 96), max_size=(64, 96))
    native = chosen(small)
    assert tuple(native["img_size"].value) == (64, 96)
    assert native["label_resize"].value == "nearest"
    assert "nothing to shrink" in native["label_resize"].reason
    mixed = made_up(median_size=(64, 96), min_size=(64, 96), max_size=(128, 192))
    assert chosen(mixed)["label_resize"].value == "shares"  # the larger images shrink
    given = chosen(made_up(), given={"label_resize": "nearest"})["label_resize"]
    assert given.value == "nearest" and given.given
