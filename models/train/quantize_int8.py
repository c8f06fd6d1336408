"""Static int8 QDQ quantisation of an exported model (issue 15, "int8 measured against Dice").

  /usr/bin/python3 models/train/quantize_int8.py --model models/quorum-wt-v2 --out /tmp/q8

Without onnxruntime's Python package (not on this machine), by hand with python3-onnx: every Conv
gets int8 weights per output channel (symmetric), an int32 bias, and uint8 QuantizeLinear /
DequantizeLinear pairs on its input and output (asymmetric), which onnxruntime fuses into
QLinearConv. Activation ranges (min/max) come from running the float model in onnxruntime-node on
training slices (runs/cache-v2.npz, never the held-out ones) at the sampler's timesteps, with the
label as x0. Writes <out>/model.onnx and a copy of the manifest (its `file` unchanged), so
`quorum propose --model <out>` runs it.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..'))
RANGES_JS = r"""
const fs = require('node:fs');
const ort = require('onnxruntime-node');
(async () => {
  const [model, dir, shapesJson, names] = process.argv.slice(2);
  const shapes = JSON.parse(shapesJson);
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 2 });
  const feeds = {};
  for (const [n, shape] of Object.entries(shapes)) {
    const b = fs.readFileSync(`${dir}/${n}.f32`);
    feeds[n] = new ort.Tensor('float32', new Float32Array(b.buffer, b.byteOffset, b.length / 4), shape);
  }
  const out = await s.run(feeds);
  const r = {};
  for (const n of JSON.parse(names)) {
    let lo = Infinity, hi = -Infinity;
    for (const v of out[n].data) { if (v < lo) lo = v; if (v > hi) hi = v; }
    r[n] = [lo, hi];
  }
  fs.writeFileSync(`${dir}/ranges.json`, JSON.stringify(r));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def calibration_feeds(n, image_channels, seed=0):
    """Training slices (tumour and not) with x_t drawn at the DDIM-5 timesteps from the label."""
    d = np.load(os.path.join(os.path.dirname(__file__), 'runs', 'cache-v2.npz'))
    idx = np.nonzero(d['train'])[0]
    rng = np.random.default_rng(seed)
    pick = rng.choice(idx, n, replace=False)
    img = d['image'][pick].astype(np.float32)
    lab = (d['label'][pick] > 127).astype(np.float32) * 2 - 1
    if img.shape[1] < image_channels:
        img = np.concatenate([img, np.zeros((n, image_channels - img.shape[1]) + img.shape[2:], np.float32)], 1)
    betas = np.linspace(1e-4, 0.02, 1000)
    ab = np.cumprod(1 - betas)
    t = rng.choice([999, 799, 599, 399, 199], n).astype(np.float32)
    a = ab[t.astype(int)][:, None, None, None]
    x_t = (np.sqrt(a) * lab + np.sqrt(1 - a) * rng.standard_normal(lab.shape)).astype(np.float32)
    return {'image': img, 'x_t': x_t, 't': t}


def activation_ranges(model, names, feeds):
    m = onnx.load(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'm.onnx')
        onnx.save(m, path)
        for k, v in feeds.items():
            np.ascontiguousarray(v, dtype=np.float32).tofile(os.path.join(d, k + '.f32'))
        js = os.path.join(d, 'ranges.cjs')
        with open(js, 'w') as f:
            f.write(RANGES_JS)
        shapes = {k: list(v.shape) for k, v in feeds.items()}
        env = {**os.environ, 'NODE_PATH': os.path.join(REPO, 'node_modules')}
        subprocess.run(['node', js, path, d, json.dumps(shapes), json.dumps(names)], check=True, cwd=REPO, env=env)
        return json.load(open(os.path.join(d, 'ranges.json')))


def quantise(src, dst, ranges, skip_output):
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    convs = [n for n in g.node if n.op_type == 'Conv']
    new_nodes, new_inits = [], []
    qdq_of = {}

    def act_qdq(name):
        """uint8 Q -> DQ of a float tensor; returns the dequantised name (one pair per tensor)."""
        if name in qdq_of:
            return qdq_of[name]
        lo, hi = ranges[name]
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        scale = max((hi - lo) / 255.0, 1e-8)
        zp = int(np.clip(round(-lo / scale), 0, 255))
        s, z = name + '_qs', name + '_qz'
        new_inits.append(numpy_helper.from_array(np.array(scale, np.float32), s))
        new_inits.append(numpy_helper.from_array(np.array(zp, np.uint8), z))
        new_nodes.append(helper.make_node('QuantizeLinear', [name, s, z], [name + '_q']))
        new_nodes.append(helper.make_node('DequantizeLinear', [name + '_q', s, z], [name + '_dq']))
        qdq_of[name] = (name + '_dq', scale)
        return qdq_of[name]

    renames = {}
    for c in convs:
        x, w, b = c.input[0], c.input[1], c.input[2] if len(c.input) > 2 else None
        xdq, sx = act_qdq(x)
        W = numpy_helper.to_array(inits[w]).astype(np.float32)
        sw = np.maximum(np.abs(W).reshape(W.shape[0], -1).max(1) / 127.0, 1e-8).astype(np.float32)
        Wq = np.clip(np.round(W / sw[:, None, None, None]), -127, 127).astype(np.int8)
        new_inits += [numpy_helper.from_array(Wq, w + '_q8'), numpy_helper.from_array(sw, w + '_s'),
                      numpy_helper.from_array(np.zeros(W.shape[0], np.int8), w + '_z')]
        new_nodes.append(helper.make_node('DequantizeLinear', [w + '_q8', w + '_s', w + '_z'], [w + '_dq'], axis=0))
        inputs = [xdq, w + '_dq']
        if b:
            B = numpy_helper.to_array(inits[b]).astype(np.float64)
            sb = (sx * sw).astype(np.float32)
            Bq = np.round(B / sb).astype(np.int32)
            new_inits += [numpy_helper.from_array(Bq, b + '_q32'), numpy_helper.from_array(sb, b + '_s'),
                          numpy_helper.from_array(np.zeros(W.shape[0], np.int32), b + '_z')]
            new_nodes.append(helper.make_node('DequantizeLinear', [b + '_q32', b + '_s', b + '_z'], [b + '_dq'], axis=0))
            inputs.append(b + '_dq')
        del c.input[:]
        c.input.extend(inputs)
        y = c.output[0]
        if y in skip_output:
            continue
        ydq, _ = act_qdq(y)
        renames[y] = ydq
    # consumers of a quantised conv output read its dequantised copy (the Q reads the original)
    for n in g.node:
        for i, name in enumerate(n.input):
            if name in renames:
                n.input[i] = renames[name]
    g.node.extend(new_nodes)
    g.initializer.extend(new_inits)
    # topological order: ONNX needs producers before consumers
    produced = {i.name for i in g.input} | {i.name for i in g.initializer} | {''}
    pending, ordered = list(g.node), []
    while pending:
        rest = []
        for n in pending:
            if all(i in produced for i in n.input):
                ordered.append(n)
                produced.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise SystemExit(f'cannot order {len(rest)} nodes, e.g. {rest[0].name} {list(rest[0].input)}')
        pending = rest
    del g.node[:]
    g.node.extend(ordered)
    # the unquantised float weights are no longer read
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(m)
    onnx.save(m, dst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default=os.path.join(REPO, 'models', 'quorum-wt-v2'))
    ap.add_argument('--out', required=True)
    ap.add_argument('--slices', type=int, default=64)
    args = ap.parse_args()
    manifest = json.load(open(os.path.join(args.model, 'manifest.json')))
    src = os.path.join(args.model, manifest['file'])
    m = onnx.load(src)
    convs = [n for n in m.graph.node if n.op_type == 'Conv']
    names = sorted({n.input[0] for n in convs} | {n.output[0] for n in convs})
    image_channels = m.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    ranges = {}
    for part in range(0, args.slices, 16):
        r = activation_ranges(src, names, calibration_feeds(16, image_channels, seed=part))
        for k, (lo, hi) in r.items():
            a, b = ranges.get(k, (lo, hi))
            ranges[k] = (min(a, lo), max(b, hi))
    os.makedirs(args.out, exist_ok=True)
    # the last conv writes the prediction: kept float
    quantise(src, os.path.join(args.out, manifest['file']), ranges, skip_output={'pred'})
    shutil.copy(os.path.join(args.model, 'manifest.json'), os.path.join(args.out, 'manifest.json'))
    print(f'wrote {args.out} ({len(convs)} convs int8, ranges from {args.slices} training slices)')


if __name__ == '__main__':
    main()
