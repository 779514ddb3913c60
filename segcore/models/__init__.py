"""Model families: U-Net (CNN), ReSeg (RNN) and U-Net + ReNet, behind one registry."""

from segcore.models.registry import (
    MODELS,
    ModelSpec,
    Param,
    build_model,
    get_spec,
    model_stride,
    resolve_hparams,
)

__all__ = [
    "MODELS", "ModelSpec", "Param", "build_model", "get_spec", "model_stride", "resolve_hparams",
]
