"""The interop suite's own forward pass, in plain Python (no numpy, nothing of kfleet's).

It reads a safetensors file as docs/schema.md §5 describes it (8-byte little-endian header
length, JSON header, data section), takes the architecture from the `__metadata__` key
`kfleet.architecture` (docs/schema.md §4), and computes what docs/kernels.md "Numerics" says a
worker computes: y = x·Wᵀ + b per layer (weights [out, in], PyTorch's nn.Linear layout), a
layer with f16/bf16 weights first rounding its inputs to that dtype, gelu in its erf form,
softmax per row. The sums are in double, so a worker's answer differs from this one only by
its f32 rounding: the tolerances below are for that.

Used by client.py (the Python client) and kcat.sh (the kcat client's numbers).
"""

import json
import math
import struct

# |got - want| <= atol + rtol * |want|, per model dtype. f32: the worker sums in f32 (a few
# ulp over ~64 terms). f16/bf16: the worker rounds its f32 activations to the weights' dtype
# where this rounds doubles, so an input near a rounding midpoint may land one ulp apart
# (f16 2^-11, bf16 2^-8 relative), rarely. Measured on the ref backend, 480 outputs each: an
# f16 gelu softmax model differed by at most 2.1e-7, a bf16 tanh one by 1.1e-7; the same
# architecture with other weights differs by ~0.05.
TOLERANCE = {"f32": (1e-5, 1e-4), "f16": (5e-4, 5e-3), "bf16": (4e-3, 3e-2)}


def f32(x):
    """x rounded to the nearest f32 (ties to even)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def round_to(x, dtype):
    """x as the worker's layer input of a model of @dtype: f32, then rounded to the dtype."""
    x = f32(x)
    if dtype == "f16":
        try:
            return struct.unpack("<e", struct.pack("<e", x))[0]
        except OverflowError:
            return math.copysign(math.inf, x)
    if dtype == "bf16":
        bits = struct.unpack("<I", struct.pack("<f", x))[0]
        if math.isnan(x):
            return x
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000  # nearest, ties to even
        return struct.unpack("<f", struct.pack("<I", bits))[0]
    return x


def decode(raw, dtype):
    """Little-endian values of @dtype ("f32", "f16", "bf16") in @raw, as Python floats."""
    if dtype == "f32":
        return list(struct.unpack("<%df" % (len(raw) // 4), raw))
    if dtype == "f16":
        return list(struct.unpack("<%de" % (len(raw) // 2), raw))
    if dtype == "bf16":
        halves = struct.unpack("<%dH" % (len(raw) // 2), raw)
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in halves]
    raise ValueError("unknown dtype %r" % dtype)


def encode(values, dtype):
    """@values as little-endian @dtype bytes (what a request's inputs.data holds)."""
    if dtype == "f32":
        return struct.pack("<%df" % len(values), *values)
    if dtype == "f16":
        return struct.pack("<%de" % len(values), *values)
    if dtype == "bf16":
        out = bytearray()
        for v in values:
            bits = struct.unpack("<I", struct.pack("<f", round_to(v, "bf16")))[0]
            out += struct.pack("<H", bits >> 16)
        return bytes(out)
    raise ValueError("unknown dtype %r" % dtype)


class Model:
    """An MLP read from a safetensors file: layers of (weight rows, bias, activation)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8 : 8 + n])
        data = blob[8 + n :]
        arch = json.loads(header["__metadata__"]["kfleet.architecture"])
        if arch.get("kind") != "mlp":
            raise ValueError("%s: architecture kind %r, not mlp" % (path, arch.get("kind")))
        st_dtypes = {"F32": "f32", "F16": "f16", "BF16": "bf16"}

        def tensor(name):
            t = header[name]
            b, e = t["data_offsets"]
            return st_dtypes[t["dtype"]], t["shape"], decode(data[b:e], st_dtypes[t["dtype"]])

        self.input_width = arch["input_width"]
        self.softmax = arch.get("output", "none") == "softmax"
        self.layers = []
        width = self.input_width
        for i, layer in enumerate(arch["layers"]):
            dtype, shape, w = tensor(layer["weight"])
            out, inn = shape
            if inn != width:
                raise ValueError("layer %d takes %d inputs, the previous gives %d" % (i, inn, width))
            bias = tensor(layer["bias"])[2] if layer.get("bias") else [0.0] * out
            rows = [w[o * inn : (o + 1) * inn] for o in range(out)]
            self.layers.append((dtype, rows, bias, layer.get("activation", "none")))
            width = out
        self.dtype = self.layers[0][0]
        self.output_width = width

    def forward(self, rows):
        """The outputs of the network for @rows (lists of input_width floats)."""
        return [self._forward_row(r) for r in rows]

    def _forward_row(self, x):
        for dtype, w, bias, act in self.layers:
            xin = [round_to(v, dtype) for v in x]
            x = [
                _activate(act, math.fsum(wi * xi for wi, xi in zip(wrow, xin)) + b)
                for wrow, b in zip(w, bias)
            ]
        if self.softmax:
            m = max(x)
            e = [math.exp(v - m) for v in x]
            s = math.fsum(e)
            x = [v / s for v in e]
        return x

    def mismatch(self, got, want):
        """None when every value of @got is within tolerance of @want, else what differs."""
        atol, rtol = TOLERANCE[self.dtype]
        if len(got) != len(want):
            return "%d rows, expected %d" % (len(got), len(want))
        for r, (g_row, w_row) in enumerate(zip(got, want)):
            if len(g_row) != len(w_row):
                return "row %d has %d values, expected %d" % (r, len(g_row), len(w_row))
            for c, (g, w) in enumerate(zip(g_row, w_row)):
                if not abs(g - w) <= atol + rtol * abs(w):
                    return "row %d col %d: got %.9g, expected %.9g (atol %g rtol %g)" % (
                        r, c, g, w, atol, rtol)
        return None


def _activate(act, v):
    if act == "none":
        return v
    if act == "relu":
        return v if v > 0 else 0.0
    if act == "gelu":
        return 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))
    if act == "tanh":
        return math.tanh(v)
    if act == "sigmoid":
        return 1.0 / (1.0 + math.exp(-v)) if v >= -700 else 0.0
    raise ValueError("unknown activation %r" % act)
