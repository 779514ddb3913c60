"""Model families: U-Net (CNN), ReSeg (RNN) and U-Net + ReNet, behind one registry.

Importing this package does not import Keras: the CLI and the app read the registry without
paying TensorFlow's start-up. The builders (and the `ReNet` layer's Keras registration) load
on first use; `.keras` files also import `segcore.models.renet_layer` by themselves.
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

__all__ = [
    "MODELS", "ModelSpec", "Param", "build_model", "get_spec", "model_stride", "resolve_hparams",
]
