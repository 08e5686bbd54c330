"""Folds the shape arithmetic out of a torch-exported decoder graph.

torch.onnx.export traces every `view`, `expand` and `x.shape[-1] // 2` as
Shape -> Gather -> Unsqueeze -> Concat chains, because batch and sequence
lengths are dynamic. onnxruntime runs each of those nodes on every call,
and on a CPU a node costs about half a microsecond however small it is:
for neo's 4-layer demo model they were a third of the ~300 nodes per run,
and a one-row decode step spent more time dispatching nodes than doing
arithmetic.

simplify() rewrites the graph so that onnxruntime has less to dispatch,
without changing any arithmetic on floats (outputs are bit-identical):

  * shape vectors are tracked symbolically (each entry a static int or
    a named dynamic dimension such as "batch", from ONNX shape
    inference); any value that turns out static becomes a Constant;
  * Reshape targets built from dynamic dimensions become constants, using
    ONNX's 0 ("copy this input dimension") where the dimension is the
    input's own at that position, and -1 for at most one other;
  * Expand targets become broadcast constants (1 where a dimension is
    kept);
  * nodes whose outputs nothing reads are dropped.

It needs the `onnx` Python package (Debian: python3-onnx) and no
onnxruntime. Usage: simplify.py IN.onnx OUT.onnx
"""

import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

_EVAL_OPS = {"Unsqueeze", "Squeeze", "Cast", "Div", "Mul", "Add", "Sub", "Neg", "Concat",
             "Gather", "Equal", "Where", "Range", "ConstantOfShape", "Slice"}


def _dims(vi):
    """Inferred dims of a value: ints, named dims, or None when unknown."""
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    out = []
    for d in t.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.dim_param and not d.dim_param.startswith("unk__"):
            out.append(d.dim_param)  # a name shared by every tensor with that dimension
        else:
            out.append(None)  # unknown, or a name inference made up for one tensor
    return out


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _np_dtype(onnx_type):
    if hasattr(helper, "tensor_dtype_to_np_dtype"):  # onnx >= 1.13; onnx.mapping is gone in 1.19
        return helper.tensor_dtype_to_np_dtype(onnx_type)
    return onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[onnx_type]


def _evaluate(node, a):
    """Evaluates a small op on constant numpy inputs (shape arithmetic only)."""
    op, at = node.op_type, _attrs(node)
    if op == "Unsqueeze":
        val = a[0]
        for ax in sorted(int(v) for v in a[1].reshape(-1)):
            val = np.expand_dims(val, ax if ax >= 0 else ax + val.ndim + 1)
        return val
    if op == "Squeeze":
        axes = tuple(int(v) for v in a[1].reshape(-1)) if len(a) > 1 else None
        return np.squeeze(a[0], axis=axes)
    if op == "Cast":
        return a[0].astype(_np_dtype(at["to"]))
    if op == "Div":
        if a[0].dtype.kind in "iu":  # ONNX integer Div truncates toward zero; numpy // floors
            q = a[0] // a[1]
            val = q + ((q < 0) & (q * a[1] != a[0]))
        else:
            val = a[0] / a[1]
        return val.astype(a[0].dtype)
    if op == "Mul":
        return (a[0] * a[1]).astype(a[0].dtype)
    if op == "Add":
        return (a[0] + a[1]).astype(a[0].dtype)
    if op == "Sub":
        return (a[0] - a[1]).astype(a[0].dtype)
    if op == "Neg":
        return -a[0]
    if op == "Concat":
        return np.concatenate(a, axis=at["axis"])
    if op == "Gather":
        return np.take(a[0], a[1], axis=at.get("axis", 0))
    if op == "Equal":
        return np.equal(a[0], a[1])
    if op == "Where":
        return np.where(a[0], a[1], a[2])
    if op == "Range":
        return np.arange(a[0], a[1], a[2]).astype(a[0].dtype)
    if op == "ConstantOfShape":
        v = numpy_helper.to_array(at["value"]) if "value" in at else np.zeros(1, np.float32)
        return np.full(tuple(int(x) for x in a[0]), v.reshape(-1)[0], dtype=v.dtype)
    if op == "Slice":
        starts, ends = a[1], a[2]
        axes = a[3] if len(a) > 3 else np.arange(len(starts))
        steps = a[4] if len(a) > 4 else np.ones(len(starts), np.int64)
        sl = [slice(None)] * a[0].ndim
        for st, en, ax, sp in zip(starts, ends, axes, steps):
            sl[int(ax)] = slice(int(st), int(en), int(sp))
        return a[0][tuple(sl)]
    raise ValueError(op)


_SHAPE_OPS = {"Gather", "Unsqueeze", "Slice", "Concat"}


def _entry(e):
    return int(e) if isinstance(e, (int, np.integer)) else e


def _partial(node, ins, consts, partial, shapes):
    """Symbolic value of a shape vector: an object array of ints, dimension
    names and None (nothing known), or None when node is not shape
    arithmetic on one. Shape reads the inferred dims; Gather, Unsqueeze,
    Slice and Concat are evaluated by _evaluate on those arrays, with
    static indices, axes and steps."""
    if node.op_type == "Shape":
        s = shapes.get(ins[0])
        if s is None or "start" in _attrs(node) or "end" in _attrs(node):
            return None
        return np.array(s, dtype=object)
    if node.op_type not in _SHAPE_OPS or not any(i in partial for i in ins):
        return None
    if node.op_type != "Concat" and any(i in partial for i in ins[1:]):
        return None  # a dynamic index or bound
    args = []
    for i in ins:
        if i in partial:
            args.append(partial[i])
        elif i in consts and consts[i].dtype.kind in "iu":
            args.append(consts[i])
        else:
            return None  # omitted ("") or unknown input
    r = np.asarray(_evaluate(node, args), dtype=object)
    return np.array([_entry(e) for e in r.reshape(-1)], dtype=object).reshape(r.shape)


def _const_node(name, value):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value), name))


def _reshape_target(target, data_dims):
    """A constant Reshape target for a symbolic one, or None.

    The target is rebuilt without allowzero, so its 0 entries mean "copy
    the input's dimension". A -1 is only ever moved, never added: a new -1
    could not be resolved when another dimension is 0 at run time."""
    had_free = -1 in target
    target = list(target)
    if -1 in target and data_dims is not None and None not in data_dims and None not in target:
        # The -1 may be static: what is left of the input once the
        # target's other entries, named or static, are divided out.
        names = [d for d in data_dims if isinstance(d, str)]
        static = int(np.prod([d for d in data_dims if isinstance(d, int)]))
        ok = True
        for e in target:
            if isinstance(e, str):
                ok = ok and e in names
                if e in names:
                    names.remove(e)
            elif e != -1:
                ok = ok and e > 0 and static % e == 0
                static = static // e if ok else static
        if ok and not names and static > 0:
            target[target.index(-1)] = static
    out, free = [], 0
    for j, e in enumerate(target):
        if isinstance(e, int):
            if e == 0:
                return None  # a literal 0 would mean "copy" in ONNX
            out.append(e)
            free += e == -1
        elif e is not None and data_dims is not None and j < len(data_dims) and data_dims[j] == e:
            out.append(0)  # the input's own dimension at this position
        else:
            out.append(-1)
            free += 1
    if free > 1 or (free == 1 and not had_free):
        return None
    return out


def _expand_target(out_dims, in_dims):
    if out_dims is None or in_dims is None or len(out_dims) != len(in_dims) or None in out_dims:
        return None
    out = []
    for o, i in zip(out_dims, in_dims):
        if o == i:
            out.append(1)
        elif isinstance(o, int) and i == 1:
            out.append(o)
        else:
            return None
    return out


def simplify(model, max_rounds=8, log=None):
    """Returns model with its shape arithmetic folded (see the module doc)."""
    for rnd in range(max_rounds):
        model = shape_inference.infer_shapes(model, data_prop=True)
        g = model.graph
        shapes = {vi.name: _dims(vi) for vi in list(g.value_info) + list(g.input) + list(g.output)}
        overridable = {i.name for i in g.input}  # an initializer that is also an input is only a default
        consts = {i.name: numpy_helper.to_array(i) for i in g.initializer if i.name not in overridable}
        partial = {}
        nodes, changed = [], 0
        for n in g.node:
            ins = list(n.input)
            if n.op_type == "Constant":
                at = _attrs(n)
                if "value" in at:
                    consts[n.output[0]] = numpy_helper.to_array(at["value"])
                nodes.append(n)
                continue
            val = None
            if n.op_type in _EVAL_OPS and ins and all(i in consts for i in ins):  # "" (omitted input): not folded
                val = _evaluate(n, [consts[i] for i in ins])
            else:
                p = _partial(n, ins, consts, partial, shapes)
                if p is not None:
                    if all(isinstance(e, int) for e in p.reshape(-1)):
                        val = p.astype(np.int64)
                    else:
                        partial[n.output[0]] = p
            if val is not None:
                consts[n.output[0]] = np.asarray(val)
                nodes.append(_const_node(n.output[0], val))
                changed += 1
                continue
            tgt = None
            if n.op_type == "Reshape" and ins[1] in partial and partial[ins[1]].ndim == 1:
                tgt = _reshape_target(list(partial[ins[1]]), shapes.get(ins[0]))
            elif n.op_type == "Expand" and ins[1] not in consts:
                tgt = _expand_target(shapes.get(n.output[0]), shapes.get(ins[0]))
            if tgt is not None:  # the same op with a constant target
                name = n.output[0] + "/shape"
                nodes += [_const_node(name, np.array(tgt, dtype=np.int64)),
                          helper.make_node(n.op_type, [ins[0], name], list(n.output), name=n.name)]
                changed += 1
                continue
            nodes.append(n)
        # Drop what no graph output needs.
        needed = {o.name for o in g.output} | _subgraph_inputs(g)
        keep = []
        for n in reversed(nodes):
            if any(o in needed for o in n.output):
                keep.append(n)
                needed.update(i for i in n.input if i)
        keep.reverse()
        removed = len(nodes) - len(keep)
        del g.node[:]
        g.node.extend(keep)
        del g.value_info[:]
        if log:
            log(f"simplify: round {rnd + 1}: {changed} folded, {removed} dropped, {len(keep)} nodes")
        if changed == 0 and removed == 0:
            break
    return model


def _subgraph_inputs(g):
    """Names read inside If/Loop/Scan bodies (outer-scope references included)."""
    out = set()
    for n in g.node:
        for a in n.attribute:
            for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                for m in sub.node:
                    out.update(i for i in m.input if i)
                out |= _subgraph_inputs(sub)
    return out


def compute_nodes(model):
    """Nodes other than Constant: what onnxruntime dispatches (before its own fusions)."""
    return sum(1 for n in model.graph.node if n.op_type != "Constant")


def main(argv):
    if len(argv) != 3:
        raise SystemExit("usage: simplify.py IN.onnx OUT.onnx")
    m = onnx.load(argv[1])
    before = compute_nodes(m)
    m = simplify(m, log=lambda s: print(s, file=sys.stderr))
    onnx.checker.check_model(m)
    onnx.save(m, argv[2])
    print(f"simplify: {before} -> {compute_nodes(m)} nodes", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
