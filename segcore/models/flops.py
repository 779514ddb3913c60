"""Forward FLOPs counted from the layers (2 per multiply-add), for benchmarks and the table."""

from keras import layers

from segcore.models.layers import ReNet


def _spatial(shape):
    return int(shape[1]) * int(shape[2])


def layer_flops(layer, input_shape, output_shape):
    """FLOPs of one layer call; layers without multiply-adds (pool, BN, ReLU) count 0."""
    if isinstance(layer, layers.SeparableConv2D):
        kh, kw = layer.kernel_size
        cin = int(input_shape[-1])
        depthwise = _spatial(output_shape) * kh * kw * cin * layer.depth_multiplier
        pointwise = _spatial(output_shape) * cin * layer.depth_multiplier * layer.filters
        return 2 * (depthwise + pointwise)
    if isinstance(layer, layers.Conv2DTranspose):
        kh, kw = layer.kernel_size
        return 2 * _spatial(input_shape) * kh * kw * int(input_shape[-1]) * layer.filters
    if isinstance(layer, layers.Conv2D):
        kh, kw = layer.kernel_size
        return 2 * _spatial(output_shape) * kh * kw * int(input_shape[-1]) * layer.filters // layer.groups
    if isinstance(layer, layers.Dense):
        positions = 1
        for side in output_shape[1:-1]:
            positions *= int(side)
        return 2 * positions * int(input_shape[-1]) * layer.units
    if isinstance(layer, ReNet):
        return layer.recurrent_flops(int(input_shape[1]), int(input_shape[2]), int(input_shape[-1]))
    return 0


def forward_flops(model):
    """Sums the forward FLOPs of one image through a model built with a fixed input size."""
    total = 0
    for layer in model.layers:
        for node in layer._inbound_nodes:
            inputs = node.input_tensors
            outputs = node.output_tensors
            if not inputs or not outputs:
                continue
            total += layer_flops(layer, inputs[0].shape, outputs[0].shape)
    return total
