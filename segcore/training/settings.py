"""Train settings as one dict: the widgets come from RunConfig, AugmentConfig and the registry.

Each `Setting` is one widget, made from a field's `widget`, `help`, `choices` and `range`
metadata (or from a model `Param`). The page keeps one dict, a `RunConfig` in its JSON form,
and moves it to and from the widgets through `widget_values` and `config_from_values`: keeping
the settings across pages, restoring them in a new tab and "use this run's settings" are that
one round trip.
"""

import dataclasses
from dataclasses import dataclass

from segcore.data.augment import AugmentConfig
from segcore.errors import ConfigError
from segcore.losses import SMOOTHABLE
from segcore.models import get_spec
from segcore.training.config import RunConfig
from segcore.widget import Widget

GROUPS = ("model", "optimization", "data", "advanced")
_SIZE_LABELS = {0: "Image height", 1: "Image width"}
_SIZE_KEYS = {0: "img_h", 1: "img_w"}


@dataclass(frozen=True)
class Setting:
    """One Train-page widget and where its value lives in a RunConfig's JSON.

    Attributes:
        key: the widget's key: the field name, `aug_<name>`, `hp_<name>`, or `img_h`/`img_w`.
        path: where the value sits in `RunConfig.to_json()`, e.g. ("augment", "hflip") or
            ("img_size", 0).
        widget: how it is drawn.
        help: the tooltip (the same words as the CLI's `--help`).
        choices: the allowed values of a "select".
        default: the value of a fresh RunConfig.
    """

    key: str
    path: tuple
    widget: Widget
    help: str = ""
    choices: tuple = ()
    default: object = None


def log_steps(low, high):
    """1-3-10 steps between low and high, for log-scale parameters."""
    values, decade = [], 10.0 ** int(f"{low:e}".split("e")[1])
    while decade <= high * 1.0001:
        values += [v for v in (decade, 3 * decade) if low * 0.9999 <= v <= high * 1.0001]
        decade *= 10
    return tuple(values) or (low,)


def _field_settings(f, default, prefix, path):
    """The widgets of one dataclass field (two for an image size, none without `widget`)."""
    widget = f.metadata.get("widget")
    if widget is None:
        return []
    help_text = widget.help or f.metadata.get("help", "")
    if widget.kind == "size":
        return [Setting(_SIZE_KEYS[i], (*path, f.name, i),
                        dataclasses.replace(widget, label=_SIZE_LABELS[i]), help_text,
                        default=default[i]) for i in (0, 1)]
    return [Setting(prefix + f.name, (*path, f.name), widget, help_text,
                    tuple(f.metadata.get("choices") or ()), default)]


def _param_setting(param):
    """A registry hyperparameter as a widget: the registry's ranges are the widget's."""
    label = param.name.replace("_", " ")
    kind = {"bool": "checkbox", "choice": "select", "log": "steps"}.get(param.kind, "slider")
    low, high, step, steps = param.low, param.high, None, ()
    if param.kind == "log":
        steps = log_steps(param.low, param.high)
    elif param.kind in ("int", "float"):
        # A slider's bounds, step and value share one type (Streamlit refuses a mix).
        cast = int if param.kind == "int" else float
        low, high, step = cast(low), cast(high), (1 if param.kind == "int" else None)
    widget = Widget(label, "model", kind, low, high, step, steps)
    return Setting(f"hp_{param.name}", ("hparams", param.name), widget, param.help,
                   tuple(param.choices), param.default)


def settings_for(model):
    """Every setting of the Train form for `model`, in drawing order.

    RunConfig's fields in their order, the model's hyperparameters right after `model`, the
    augmentations where the `augment` field stands.
    """
    config, augment, out = RunConfig(), AugmentConfig(), []
    for f in dataclasses.fields(RunConfig):
        if f.name == "augment":
            for g in dataclasses.fields(AugmentConfig):
                out += _field_settings(g, getattr(augment, g.name), "aug_", ("augment",))
            continue
        out += _field_settings(f, getattr(config, f.name), "", ())
        if f.name == "model":
            out += [_param_setting(p) for p in get_spec(model).params]
    return out


def saved_form(config):
    """The dict the page keeps: a RunConfig's JSON without `data` (the dataset is chosen apart)."""
    data = config.to_json()
    data.pop("data", None)
    return data


def restore(data):
    """A kept settings dict as a valid, complete one (hyperparameters resolved), or None.

    Args:
        data: a dict from the session, the workspace's place file or a run's config.json.

    Returns:
        `saved_form` of the validated RunConfig, or None when the dict is no valid RunConfig
        (an older file, a hand edit): the caller starts from the defaults.
    """
    if not isinstance(data, dict):
        return None
    try:
        config = RunConfig.from_json({k: v for k, v in data.items() if k != "data"}).validate()
    except (ConfigError, TypeError, ValueError, AttributeError):
        return None
    return saved_form(config)


def default_form():
    """The settings of a fresh RunConfig, hyperparameters resolved."""
    return saved_form(RunConfig().validate())


def _get(data, path):
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def widget_values(form):
    """{widget key: value} of a settings dict (see `restore`), for every widget of its model."""
    values = {}
    for setting in settings_for(form["model"]):
        value = _get(form, setting.path)
        if setting.widget.kind == "crop":  # a square crop or patch: one side
            values[setting.key] = value[0] if value else "none"
        else:
            values[setting.key] = setting.default if value is None else value
    return values


def config_from_values(values, data):
    """The RunConfig the widgets show (not validated: `launch.start_run` does that).

    Args:
        values: {widget key: value}; `model` decides which hyperparameters are read.
        data: the dataset folder.
    """
    form = default_form()
    form["hparams"] = {}
    for setting in settings_for(values["model"]):
        # A hidden widget's kept value does not reach the run: its default does.
        value = values[setting.key] if shown(setting.key, values) else setting.default
        if setting.widget.kind == "crop":
            form[setting.key] = None if value in ("none", None) else [value, value]
            continue
        target = form
        for part in setting.path[:-1]:
            target = target[part]
        target[setting.path[-1]] = value
    return RunConfig.from_json({**form, "data": data})


# Widgets that act on a pretrained encoder only: U-Net's own encoder ("none") has none of them.
ENCODER_ONLY = ("hp_encoder_weights", "hp_freeze_epochs", "hp_encoder_lr_scale")
# Widgets of native-resolution patch training, shown once a patch size is chosen.
PATCH_ONLY = ("scale", "oversample_rare")
# Widgets that act with class weights only.
WEIGHTS_ONLY = ("prior_correction", "prior_fit")


def shown(key, values):
    """Whether the widget `key` applies, given the values drawn before it.

    Args:
        key: a widget key.
        values: {widget key: value} of the widgets drawn so far.

    Returns:
        False for encoder-only widgets without an encoder, patch-only ones without a patch,
        the prior correction without class weights and label smoothing for a loss with no
        cross-entropy term.
    """
    if key == "label_smoothing":
        return values.get("loss", "ce") in SMOOTHABLE
    if key in PATCH_ONLY:
        return values.get("patch", "none") != "none"
    if key in WEIGHTS_ONLY:
        return values.get("class_weights", "none") != "none"
    return key not in ENCODER_ONLY or values.get("hp_encoder", "none") != "none"


def choice_path(setting):
    """The `auto.Choice` path a widget sets: "img_size" for both sides, "hparams.depth"..."""
    if setting.key in _SIZE_KEYS.values():
        return "img_size"
    return ".".join(str(p) for p in setting.path)


def given_settings(form, keys):
    """{choice path: value} of the widgets `keys` (those the user changed), from `form`.

    Args:
        form: the kept settings dict (see `restore`).
        keys: widget keys.

    Returns:
        What `auto.choose_settings` keeps as given.
    """
    given = {}
    for setting in settings_for(form["model"]):
        if setting.key in keys:
            path = choice_path(setting)
            value = _get(form, path.split("."))
            given[path] = tuple(value) if isinstance(value, list) else value
    return given


def suggestion_base(form, given):
    """What "Suggest settings" starts from: the defaults, with the settings the user gave and
    the fields no widget shows (classes, ignore index, strategy) taken from `form`.

    So the suggestion is what `train --auto` chooses with those flags, whatever an earlier
    suggestion (for another dataset) or a run's settings left in the widgets the user did not
    change: a setting `--auto` does not choose goes back to its default.

    Args:
        form: the kept settings dict.
        given: `given_settings(form, touched)`.

    Returns:
        A settings dict (`restore`d), or None when the given settings make no valid config.
    """
    base = default_form()
    drawn = {setting.path[0] for setting in settings_for(form["model"])}
    base.update({key: value for key, value in form.items() if key not in drawn})
    # The family whose hyperparameter widgets the user changed, unless they gave one.
    wanted = {path.split(".", 1)[1] for path in given if path.startswith("hparams.")}
    default_params = {param.name for param in get_spec(base["model"]).params}
    model = given.get("model", base["model"] if wanted <= default_params else form["model"])
    if model != base["model"]:
        base["model"], base["hparams"] = model, {}  # the default family's do not apply
    for path, value in given.items():
        head, _, tail = path.partition(".")
        value = list(value) if isinstance(value, tuple) else value
        if tail:
            base[head][tail] = value
        else:
            base[head] = value
    return restore(base)


def apply_choices(form, choices, given=None):
    """The settings dict with every choice's value in place (checked as a RunConfig).

    Args:
        form: the kept settings dict.
        choices: `auto.Choice`s.
        given: the settings the user gave (`given_settings`): where the choices change the
            family, the given hyperparameters are kept (they are its own: `choose_settings`
            picks a family that has them) and the old family's others dropped.

    Returns:
        The new settings dict (`restore`d), or None when the result is no valid config.
    """
    data = {**form, "augment": dict(form["augment"]), "hparams": dict(form["hparams"])}
    model = next((c.value for c in choices if c.path == "model"), data["model"])
    if model != data["model"]:
        data["hparams"] = {path.split(".", 1)[1]: value for path, value in (given or {}).items()
                           if path.startswith("hparams.")}
    for choice in choices:
        head, _, tail = choice.path.partition(".")
        value = list(choice.value) if isinstance(choice.value, tuple) else choice.value
        if tail:
            data[head][tail] = value
        else:
            data[head] = value
    return restore(data)


def plural(count, word):
    """'1 epoch', '2 epochs'."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def run_summary(config):
    """One line describing a run's settings, e.g. 'unet depth=2 base_filters=8 · 32x32 · ...'."""
    if not config:
        return ""
    hparams = " ".join(f"{k}={v}" for k, v in (config.get("hparams") or {}).items())
    size = "x".join(str(s) for s in config.get("img_size", []))
    smoothing = config.get("label_smoothing") or 0
    return (f"{config.get('model', '?')} {hparams} · {size} · "
            f"{plural(config.get('epochs'), 'epoch')} · "
            f"batch {config.get('batch_size')} · lr {config.get('lr'):g} "
            f"{config.get('optimizer')}/{config.get('schedule')} · loss {config.get('loss')}"
            f"{f', label smoothing {smoothing:g}' if smoothing else ''}{_weighting(config)}")


def _weighting(config):
    """' · class weights median, prior correction 0.5' (or 'fitted from 0.5'); '' without."""
    weights = config.get("class_weights") or "none"
    if weights == "none":
        return ""
    share = config.get("prior_correction")
    if share is None:
        return f" · class weights {weights}"
    fitted = "fitted from " if config.get("prior_fit") == "train" else ""
    return f" · class weights {weights}, prior correction {fitted}{share:g}"


def fit(setting, value, options=None):
    """The nearest value the widget can show: a config may hold any value of its field's range
    (500 epochs from the CLI, a learning rate of 0.002), a slider offers a part of it.

    Args:
        setting: the widget.
        value: the value to show.
        options: the choices of a "select", "steps", "size" or "crop" widget when they depend
            on other settings (image sizes that suit the model's stride); of a "classes"
            widget, the dataset's class names (a name the dataset lacks is dropped).
    """
    widget = setting.widget
    if widget.kind == "checkbox":
        return bool(value)
    if widget.kind == "classes":  # a multiselect of the dataset's class names
        options = list(options or ())
        names = value if isinstance(value, (list, tuple)) else []
        return [name for name in names if name in options]
    if widget.kind == "select":
        options = list(options or setting.choices)
        return value if value in options else (
            setting.default if setting.default in options else options[0])
    options = list(options or widget.steps)
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if options:
        if value in options:
            return value
        numbers = [o for o in options if not isinstance(o, str)]
        if not numeric or not numbers:
            return options[0]
        return min(numbers, key=lambda o: abs(o - value))
    # The bounds' type is the widget's: an int slider takes ints only, a float one floats.
    integer = all(isinstance(v, int) for v in (widget.low, widget.high))
    if not numeric:
        value = setting.default
    value = min(max(value, widget.low), widget.high)
    return int(round(value)) if integer else float(value)
