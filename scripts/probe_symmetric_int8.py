"""Probe behind BENCHMARKS.md "What was tried" item 4 (not part of the product or CI).

Rewrites every activation quantiser of an int8 export into symmetric int8 (zero point 0,
scale = max |x| / 127) and drops the zero-point inputs of MatMulInteger/ConvInteger, so that
tract's latency and `host-train verify-onnx` agreement can be compared with the export as is.

It expects `DynamicQuantizeLinear` nodes, i.e. a file from the exporter before it wrote that op
out in element-wise ops (commit d5e2511), or any onnxruntime `quantize_dynamic` output.

Usage: python scripts/probe_symmetric_int8.py IN.onnx OUT.onnx [--range minmax|abs]
  minmax: max(ReduceMax(x), -ReduceMin(x)) (the faster variant); abs: ReduceMax(Abs(x)).
Needs the `onnx` package.
"""

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--range", choices=["minmax", "abs"], default="minmax")
    args = parser.parse_args()

    model = onnx.load(args.src)
    graph = model.graph
    for name, value in {
        "sq_inv127": 1.0 / 127.0,
        "sq_tiny": float(np.finfo(np.float32).tiny),
        "sq_lo": -127.0,
        "sq_hi": 127.0,
    }.items():
        graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), name))

    zero_points, nodes, replaced = set(), [], 0
    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            replaced += 1
            x = node.input[0]
            y, scale, zero_point = node.output
            zero_points.add(zero_point)
            p = f"sq{replaced}_"
            if args.range == "abs":
                nodes += [
                    helper.make_node("Abs", [x], [p + "abs"]),
                    helper.make_node("ReduceMax", [p + "abs"], [p + "amax"], keepdims=0),
                ]
            else:
                nodes += [
                    helper.make_node("ReduceMax", [x], [p + "max"], keepdims=0),
                    helper.make_node("ReduceMin", [x], [p + "min"], keepdims=0),
                    helper.make_node("Neg", [p + "min"], [p + "nmin"]),
                    helper.make_node("Max", [p + "max", p + "nmin"], [p + "amax"]),
                ]
            nodes += [
                helper.make_node("Mul", [p + "amax", "sq_inv127"], [p + "s0"]),
                helper.make_node("Max", [p + "s0", "sq_tiny"], [scale]),
                helper.make_node("Div", [x, scale], [p + "xs"]),
                helper.make_node("Round", [p + "xs"], [p + "xr"]),
                helper.make_node("Clip", [p + "xr", "sq_lo", "sq_hi"], [p + "xc"]),
                helper.make_node("Cast", [p + "xc"], [y], to=TensorProto.INT8),
            ]
            continue
        if node.op_type in ("MatMulInteger", "ConvInteger") and len(node.input) > 2:
            if node.input[2] in zero_points:
                kept = list(node.input[:2])
                del node.input[:]
                node.input.extend(kept)
        nodes.append(node)
    if not replaced:
        raise SystemExit(f"{args.src}: no DynamicQuantizeLinear node to rewrite")
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, args.dst)
    print(f"{replaced} DynamicQuantizeLinear rewritten as symmetric int8 ({args.range})")


if __name__ == "__main__":
    main()
