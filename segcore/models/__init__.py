"""Model families: U-Net (CNN), ReSeg (RNN), U-Net + ReNet and DeepLabV3+, behind one registry.

Importing this package does not import Keras: the CLI and the app read the registry without
paying TensorFlow's start-up. The builders load on first use. A `.keras` file with segcore's
layers (ReNet, FusedBatchNorm, EncoderInput, ResizeLike, InputNorm, PriorCorrection) can
only be deserialized once their modules have registered them: load models with `load_model`
below.
"""

from segcore.models.registry import (
    MODELS,
    ModelSpec,
    Param,
    build_model,
    get_spec,
    model_stride,
    resolve_hparams,
)


def register_layers():
    """Registers segcore's custom layers with Keras (imports Keras); returns them by name."""
    from segcore.models.encoder_input import EncoderInput
    from segcore.models.fused_batch_norm import FusedBatchNorm
    from segcore.models.input_norm import InputNorm
    from segcore.models.prior_correction import PriorCorrection
    from segcore.models.renet_layer import ReNet
    from segcore.models.resize_like import ResizeLike

    return {"segcore>ReNet": ReNet, "segcore>FusedBatchNorm": FusedBatchNorm,
            "segcore>EncoderInput": EncoderInput, "segcore>ResizeLike": ResizeLike,
            "segcore>InputNorm": InputNorm, "segcore>PriorCorrection": PriorCorrection}


def load_model(path, compile=False):
    """Loads a `.keras` model saved from `build_model`, in Keras' safe mode.

    Args:
        path: the `.keras` file.
        compile: restore the training configuration too (segcore's loop does not need it).

    Returns:
        The `keras.Model`; one trained in bfloat16 computes in float32 (`precision.as_float32`)
        unless `compile` asks for the model as it trained.
    """
    import keras

    from segcore.models.precision import as_float32

    register_layers()
    model = keras.saving.load_model(path, safe_mode=True, compile=compile)
    return model if compile else as_float32(model)


__all__ = [
    "MODELS", "ModelSpec", "Param", "build_model", "get_spec", "load_model", "model_stride",
    "register_layers", "resolve_hparams",
]
