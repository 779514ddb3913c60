"""Mixed precision: bfloat16 arithmetic over float32 weights for training, float32 to predict.

On a CPU with native bfloat16 instructions (AVX512-BF16 or AMX: AMD Zen 4, Intel Cooper Lake
and Sapphire Rapids on) oneDNN's convolutions run about 1.6x as many training images per second
in bfloat16 as in float32 (bench/RESULTS.md, `python -m bench precision`). The weights, the
optimizer, the batch-norm statistics, the loss and the logits stay float32; only the layers'
arithmetic is bfloat16 (Keras' "mixed_bfloat16" policy), so no loss scaling is needed.

A model saved while training in bfloat16 is loaded back computing in float32
(`as_float32`): evaluation, prediction and every export run the same float32 graph whichever
precision trained the weights.
"""

import contextlib

from segcore.cpuinfo import CPUINFO, cpu_flags

PRECISIONS = {
    "float32": "float32 arithmetic throughout",
    "bfloat16": "bfloat16 arithmetic over float32 weights (mixed precision): about 1.6x the "
                "training speed on CPUs with AVX512-BF16 or AMX, and on recent GPUs",
}
_POLICY = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
# /proc/cpuinfo flags of CPUs whose oneDNN kernels compute bfloat16 natively.
NATIVE_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bfloat16(cpuinfo=CPUINFO):
    """Whether this machine's CPU computes bfloat16 natively (False when it cannot tell).

    Without such instructions oneDNN emulates bfloat16 and training gets slower, not faster.
    """
    return bool(cpu_flags(cpuinfo) & set(NATIVE_FLAGS))


def emulation_warning(precision):
    """Why `precision` will train slowly here, or None: bfloat16 on a CPU that emulates it.

    With a GPU visible the GPU computes, and this CPU's instructions say nothing about it.
    """
    if precision != "bfloat16" or native_bfloat16():
        return None
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return None
    return ("--precision bfloat16 on a CPU without AVX512-BF16 or AMX: bfloat16 is emulated "
            "here, so training runs more slowly than in float32.")


@contextlib.contextmanager
def policy(precision):
    """Layers built inside compute in `precision` ("float32" or "bfloat16").

    The global Keras policy is put back afterwards: a layer keeps the policy it was built
    with, and a test or app process building other models is not affected.
    """
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(_POLICY[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):  # a nested model (a keras.applications encoder)
            yield from _layers(layer)


def computes_float32(model):
    """Whether every layer of `model` (nested models included) computes in float32."""
    return all(layer.compute_dtype == "float32" for layer in _layers(model))


def as_float32(model):
    """`model` computing in float32, with the same weights (itself when it already does).

    Layers are rebuilt from their configs with a float32 policy; each layer's weights are
    copied in order, so the result predicts what the float32 version of the model would.
    """
    if computes_float32(model):
        return model
    import keras

    def float32_layer(layer):
        if isinstance(layer, keras.layers.InputLayer):
            return layer.__class__.from_config(layer.get_config())
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    clone = keras.models.clone_model(model, clone_function=float32_layer, recursive=True)
    clone.set_weights(model.get_weights())
    return clone
