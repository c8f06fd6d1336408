"""Writes a deep-ensemble model folder from two or more candidate model folders (export.py
--candidate), trained apart but of the same I/O: their ONNX files side by side (model.onnx,
model-2.onnx, ...) and the first one's manifest with "networks" naming them in that order (the
engine splits the members between them in contiguous blocks: core/src/manifest.ts). Each network's
provenance (its source manifest's: export.py writes the run's training config there), source
folder and SHA-256 go into provenance.networks. --out may be the first --from folder (the shipped
model after export.py, to which the other networks are added); a folder that is itself an
ensemble brings all its networks, but those named by --without (a network file of a --from folder,
e.g. model-2.onnx: one draw replaced by another). Relative paths are taken from models/train/, as
export.py's are.

  /usr/bin/python3 models/train/ensemble_model.py --from runs/model-v6b --from runs/model-v7b --out runs/model-v8
  /usr/bin/python3 models/train/ensemble_model.py --from ../quorum-wt-v2 --from runs/model-v7b --out ../quorum-wt-v2 --version 8.0.0
  /usr/bin/python3 models/train/ensemble_model.py --from ../quorum-wt-v2 --from runs/model-v9b --out runs/model-v9-trio
  /usr/bin/python3 models/train/ensemble_model.py --from ../quorum-wt-v2 --without model-2.onnx --from runs/model-v10b --out runs/model-v10-trio
"""
import argparse
import hashlib
import json
import os
import shutil


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--from', dest='sources', action='append', required=True, help='a candidate model folder')
    ap.add_argument('--out', required=True, help='the ensemble model folder to write')
    ap.add_argument('--version', help="the manifest's version (default: the first folder's)")
    ap.add_argument('--without', action='append', default=[], metavar='FILE',
                    help="leave out this network file of the --from folders (e.g. model-2.onnx of the shipped folder)")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    a.sources = [os.path.join(here, s) for s in a.sources]  # an absolute path stays as it is
    a.out = os.path.join(here, a.out)
    manifests = []
    for src in a.sources:
        with open(os.path.join(src, 'manifest.json')) as f:
            manifests.append(json.load(f))
    first = manifests[0]
    for src, m in zip(a.sources[1:], manifests[1:]):
        # the members of every network are pooled as one ensemble: everything but the weights must agree
        for key in ('channels', 'preprocess', 'schedule', 'prediction', 'maskScale', 'prompts', 'context'):
            if m.get(key) != first.get(key):
                raise SystemExit(f'ensemble_model.py: {src} differs from {a.sources[0]} in "{key}"')
    # every network of every folder, in order: a folder that is itself an ensemble (the shipped one)
    # brings all of its networks, each with its own provenance
    networks = []
    for src, m in zip(a.sources, manifests):
        prov = m.get('provenance', {})
        own = {n['file']: n for n in prov.get('networks', [])}
        for f in m.get('networks') or [m['file']]:
            if f in a.without:
                continue
            p = own.get(f) or {k: v for k, v in prov.items() if k != 'networks'}
            networks.append((src, f, {k: v for k, v in p.items() if k not in ('file', 'sha256')}))
    left = set(a.without) - {f for m in manifests for f in (m.get('networks') or [m['file']])}
    if left:
        raise SystemExit(f'ensemble_model.py: --without {", ".join(sorted(left))}: no such network in the --from folders')
    if len(networks) < 2:
        raise SystemExit('ensemble_model.py: the --from folders hold one network; an ensemble needs two or more')
    os.makedirs(a.out, exist_ok=True)
    files, origins = [], []
    for i, (src, f, prov) in enumerate(networks):
        name = 'model.onnx' if i == 0 else f'model-{i + 1}.onnx'
        source, target = os.path.join(src, f), os.path.join(a.out, name)
        if not (os.path.exists(target) and os.path.samefile(source, target)):
            shutil.copyfile(source, target)
        files.append(name)
        # a network already in an ensemble folder keeps where it first came from (its candidate folder)
        origins.append({**prov, 'file': name, 'from': prov.get('from') or os.path.relpath(source, here),
                        'sha256': sha256(target)})
    manifest = dict(first, file=files[0], networks=files)
    # the model card quotes one model's measurements; a new pool is measured anew (model_card.py --write,
    # which npm test's --check then asks for when this folder is the shipped one)
    manifest.pop('card', None)
    if a.version:
        manifest['version'] = a.version
    top = {k: v for k, v in first.get('provenance', {}).items() if k != 'networks'}
    manifest['provenance'] = dict(top, networks=origins)
    tmp = os.path.join(a.out, 'manifest.json.tmp')
    with open(tmp, 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    os.replace(tmp, os.path.join(a.out, 'manifest.json'))
    print(f'wrote {a.out}: {", ".join(files)} from {", ".join(a.sources)}')


if __name__ == '__main__':
    main()
