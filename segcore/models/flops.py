"""Forward FLOPs counted from the layers (2 per multiply-add), for benchmarks and the table.

Counted: convolutions (2 * H_out * W_out * k_h * k_w * C_in * C_out / groups), transposed
convolutions (2 * H_in * W_in * k_h * k_w * C_in * C_out), separable and dense layers, and
recurrent layers (2 * steps * gates * units * (inputs + units) per direction). Biases,
normalization, activations, pooling and resizing are left out: they are a few percent of a
convolutional network and do not use the matrix units.
"""

import keras
from keras import layers

from segcore.models.renet_layer import ReNet, rnn_flops


def _positions(shape):
    """Number of positions in a (B, *spatial, C) shape, batch excluded."""
    count = 1
    for side in shape[1:-1]:
        count *= int(side)
    return count


def _rnn_type(layer):
    if isinstance(layer, layers.GRU):
        return "gru"
    if isinstance(layer, layers.LSTM):
        return "lstm"
    return None


def layer_flops(layer, input_shape, output_shape):
    """FLOPs of one call of `layer` on one example; layers without multiply-adds count 0."""
    if isinstance(layer, ReNet):
        return layer.recurrent_flops(int(input_shape[1]), int(input_shape[2]),
                                     int(input_shape[-1]))
    if isinstance(layer, layers.Bidirectional):
        return (layer_flops(layer.forward_layer, input_shape, output_shape)
                + layer_flops(layer.backward_layer, input_shape, output_shape))
    if _rnn_type(layer):
        return rnn_flops(_rnn_type(layer), int(input_shape[1]), int(input_shape[-1]), layer.units)
    if isinstance(layer, layers.SeparableConv2D):
        kh, kw = layer.kernel_size
        cin = int(input_shape[-1]) * layer.depth_multiplier
        return 2 * _positions(output_shape) * (kh * kw * cin + cin * layer.filters)
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return 2 * _positions(output_shape) * kh * kw * int(input_shape[-1]) * layer.depth_multiplier
    if isinstance(layer, layers.Conv2DTranspose):
        kh, kw = layer.kernel_size
        return 2 * _positions(input_shape) * kh * kw * int(input_shape[-1]) * layer.filters
    if isinstance(layer, layers.Conv2D):
        kh, kw = layer.kernel_size
        cin = int(input_shape[-1]) // layer.groups
        return 2 * _positions(output_shape) * kh * kw * cin * layer.filters
    if isinstance(layer, layers.Dense):
        return 2 * _positions(output_shape) * int(input_shape[-1]) * layer.units
    if isinstance(layer, keras.Model):
        if any(side is None for side in layer.inputs[0].shape[1:]):
            # A nested model built for any size (a pretrained encoder): count it at this call's.
            return forward_flops(layer, tuple(input_shape[1:]))
        return _graph_flops(layer)
    return 0


def _graph_flops(model):
    total = 0
    for layer in model.layers:
        for node in layer._inbound_nodes:
            if node.input_tensors and node.output_tensors:
                total += layer_flops(layer, node.input_tensors[0].shape,
                                     node.output_tensors[0].shape)
    return total


def forward_flops(model, input_shape=None):
    """Forward FLOPs of one image through a functional model.

    Args:
        model: a functional `keras.Model` (the registry's models are).
        input_shape: (H, W, C) to count at; needed when the model was built with None
            spatial sizes. The model is then cloned at that size (the clone's weights are
            fresh and unused; the original is not touched).

    Returns:
        int FLOPs (2 per multiply-add); divide by 1e9 for GFLOPs.

    Example:
        A 3x3 conv from 3 to 16 channels on 32x32 "same": 2*32*32*3*3*3*16 = 884,736.
    """
    if input_shape is not None:
        inputs = keras.Input(shape=tuple(input_shape), name="image")
        model = keras.models.clone_model(model, input_tensors=inputs)
    return _graph_flops(model)
