"""Export a trained checkpoint to models/<name>/model.onnx + manifest.json.

  /usr/bin/python3 models/train/export.py --run runs/wt2ch [--metrics metrics.json]

Exports the EMA weights, checks ONNX (via onnxruntime-node, the runtime the app uses) against
PyTorch on real held-out slices, and writes the manifest the app reads (core/src/manifest.ts).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from data import CHANNELS, CLIP, HELD_OUT, INPUT_SIZE, TRAIN_SUBJECTS, axial_slices, load_subject  # noqa: E402
from manifest_v2 import fine_tune_note, held_out_slices_v2, manifest_v2, provenance  # noqa: E402
from train import save_compact  # noqa: E402
from train_prompts import click_maps  # noqa: E402
from unet import load_ema, load_exported  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..'))
NAMES = {'v1': 'quorum-wt-2ch', 'v2': 'quorum-wt-v2'}


def onnx_run(onnx_path, feeds):
    """Runs the ONNX model with onnxruntime-node (no Python ORT on this machine)."""
    with tempfile.TemporaryDirectory() as d:
        for k, v in feeds.items():
            np.ascontiguousarray(v, dtype=np.float32).tofile(os.path.join(d, k + '.f32'))
        shapes = {k: list(v.shape) for k, v in feeds.items()}
        script = os.path.join(REPO, 'models', 'train', 'ort_run.cjs')
        subprocess.run(['node', script, onnx_path, d, json.dumps(shapes)], check=True, cwd=REPO)
        return np.fromfile(os.path.join(d, 'pred.f32'), dtype=np.float32)


def export_onnx(model, meta, onnx_path):
    """Writes model.onnx with batch, height and width dynamic: the engine may run a slice's head
    crop (H, W multiples of 2**(levels-1)) instead of the whole frame (issue 15, crop to the head)."""
    H, W = INPUT_SIZE
    dummy = (torch.zeros(2, meta['arch'].get('image_channels', len(CHANNELS)), H, W), torch.zeros(2, 1, H, W), torch.zeros(2))
    image_axes = {0: 'B', 2: 'H', 3: 'W'}
    torch.onnx.export(model, dummy, onnx_path + '.tmp', input_names=['image', 'x_t', 't'], output_names=['pred'],
                      dynamic_axes={'image': image_axes, 'x_t': image_axes, 't': {0: 'B'}, 'pred': image_axes},
                      opset_version=17, do_constant_folding=True)
    os.replace(onnx_path + '.tmp', onnx_path)


def onnx_check(model, meta, version, onnx_path):
    """ONNX (onnxruntime-node) against PyTorch on real held-out tumour-bearing slices at several
    timesteps; the max abs difference, or SystemExit above 1e-4."""
    H, W = INPUT_SIZE
    if version == 'v2':
        img, lab = held_out_slices_v2(meta.get('context', 0))
    else:
        image, label, mask = load_subject(HELD_OUT)
        img, lab, ks = axial_slices(image, label, mask)
    sel = (lab.sum((1, 2, 3)) > 0).nonzero().flatten()[::10][:4]
    g = torch.Generator().manual_seed(1)
    x_img = img[sel]
    if 'prompts' in meta:
        # a positive and a negative click on each slice (the zero maps of no clicks are checked by make_fixtures)
        maps = [click_maps([(50 + 5 * i, 60, True), (70, 40 + 5 * i, False)], H, W, meta['prompts']['sigma'])
                for i in range(len(sel))]
        x_img = torch.cat([x_img, torch.from_numpy(np.stack(maps))], 1)
    extra = meta['arch'].get('image_channels', len(CHANNELS)) - x_img.shape[1]
    if extra:
        # a stage-A run (train.py) of a prompt recipe: its click channels, if any, are zero here
        x_img = torch.cat([x_img, torch.zeros(len(sel), extra, H, W)], 1)
    x_t = torch.randn(len(sel), 1, H, W, generator=g)
    t = torch.tensor([999.0, 600.0, 250.0, 10.0])[: len(sel)]
    with torch.no_grad():
        ref = model(x_img, x_t, t).numpy().ravel()
    got = onnx_run(onnx_path, {'image': x_img.numpy(), 'x_t': x_t.numpy(), 't': t.numpy()})
    max_err = float(np.abs(ref - got).max())
    print(f'ONNX vs PyTorch max abs error on {len(sel)} real slices: {max_err:.2e}')
    if max_err > 1e-4:
        raise SystemExit('ONNX export differs from PyTorch by more than 1e-4')
    return max_err


def reexport_onnx(args):
    """--onnx-only: the ONNX of an existing export written again by this export code (e.g. with
    dynamic H/W), from the run's exported.pt (the exact float32 weights behind it). The old and
    new ONNX must agree on full frames of real held-out slices (1e-5), else nothing is replaced."""
    model, meta = load_exported(args.run)
    onnx_path = os.path.join(REPO, 'models', args.name or NAMES['v2'], 'model.onnx')
    new_path = onnx_path + '.new.onnx'
    export_onnx(model, meta, new_path)
    img, lab = held_out_slices_v2(meta.get('context', 0))
    sel = (lab.sum((1, 2, 3)) > 0).nonzero().flatten()[::10][:4]
    H, W = INPUT_SIZE
    x_img = img[sel]
    extra = meta['arch'].get('image_channels', len(CHANNELS)) - x_img.shape[1]
    if extra:
        x_img = torch.cat([x_img, torch.zeros(len(sel), extra, H, W)], 1)
    g = torch.Generator().manual_seed(1)
    feeds = {'image': x_img.numpy(), 'x_t': torch.randn(len(sel), 1, H, W, generator=g).numpy(),
             't': np.array([999.0, 600.0, 250.0, 10.0][: len(sel)], dtype=np.float32)}
    old = onnx_run(onnx_path, feeds)
    new = onnx_run(new_path, feeds)
    err = float(np.abs(old - new).max())
    print(f'new ONNX vs the existing one on {len(sel)} real full-frame slices: max abs difference {err:.2e}')
    if err > 1e-5:
        os.remove(new_path)
        raise SystemExit(f'the re-exported ONNX differs from {onnx_path} by {err:.2e}: not replaced')
    os.replace(new_path, onnx_path)
    print(f'replaced {onnx_path}')


def write_candidate(args):
    """--candidate: a model folder for propose-dataset --model, so that a run or one of its
    snapshots is measured on the held-out cases through the app before it replaces the shipped one."""
    run = args.run if os.path.isabs(args.run) else os.path.join(os.path.dirname(__file__), args.run)
    model, ck = load_ema(run, args.snapshot or 'last.pt')
    meta = ck['meta']
    out = args.candidate if os.path.isabs(args.candidate) else os.path.join(os.path.dirname(__file__), args.candidate)
    os.makedirs(out, exist_ok=True)
    export_onnx(model, meta, os.path.join(out, 'model.onnx'))
    max_err = onnx_check(model, meta, 'v2', os.path.join(out, 'model.onnx'))
    manifest = json.load(open(os.path.join(REPO, 'models', args.name or NAMES['v2'], 'manifest.json')))
    manifest['version'] = f"{manifest['version']}+{os.path.basename(run)}-{ck['iter']}"
    # one network: the shipped folder's other networks (a deep ensemble, 8.0.0) are not in this one
    manifest['file'] = 'model.onnx'
    manifest.pop('networks', None)
    # the shipped model's card quotes its measurements, not this candidate's
    manifest.pop('card', None)
    # the candidate's own weights, not the shipped model's (ensemble_model.py keeps each network's)
    git = subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True, cwd=REPO).stdout.strip()
    manifest['provenance'] = {**provenance(meta, model, git, max_err),
                              'trainingConfig': json.loads(json.dumps(meta, default=str))}
    if args.crop_margin is not None:
        manifest['recommended']['cropMarginPx'] = args.crop_margin
    if 'prompts' not in meta:
        # a train.py run (no click channels yet, a stage before train_prompts.py): the engine must not feed it clicks
        manifest.pop('prompts', None)
    # the run's through-plane context (context.py), not the shipped model's
    manifest.pop('context', None)
    if meta.get('context'):
        manifest['context'] = meta['context']
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
    print(f"wrote {out}: iteration {ck['iter']}, recommended {manifest['recommended']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', required=True)
    ap.add_argument('--metrics', help='JSON file from evaluate.py to embed')
    ap.add_argument('--steps', type=int, default=5)  # v2.1: 5 DDIM steps match 10 on held-out cases at half the time
    ap.add_argument('--members', type=int, default=5)
    ap.add_argument('--metrics-only', action='store_true',
                    help='only (re)write the metrics of the existing manifest; the ONNX is left untouched')
    ap.add_argument('--low-confidence', type=float,
                    help='caseConfidence.lowBelow: cases under this confidence are flagged (chosen on validation; '
                         'default 0.8 for a new export, kept as it is with --metrics-only)')
    ap.add_argument('--version', help='manifest version (default 2.0.0 for v2 runs)')
    ap.add_argument('--name', help='models/<name>/ (default: quorum-wt-2ch for v1 runs, quorum-wt-v2 for v2 runs)')
    ap.add_argument('--onnx-only', action='store_true',
                    help="only write the ONNX again from the run's exported.pt (checked against the existing one); "
                         'the manifest is left untouched')
    ap.add_argument('--candidate', metavar='DIR',
                    help="write a model folder DIR (runs/...) to evaluate before shipping: the ONNX of the run's "
                         "last.pt EMA (or --snapshot) with the shipped model's manifest; nothing shipped is touched")
    ap.add_argument('--snapshot', help='with --candidate: an ema-<iter>.pt of the run instead of last.pt')
    ap.add_argument('--crop-margin', type=int, help="with --candidate: the manifest's recommended.cropMarginPx")
    args = ap.parse_args()
    if args.candidate:
        write_candidate(args)
        return
    if args.onnx_only:
        reexport_onnx(args)
        return
    if args.metrics_only:
        path = os.path.join(REPO, 'models', args.name or NAMES['v2'], 'manifest.json')
        manifest = json.load(open(path))
        manifest['metrics'] = json.load(open(args.metrics))
        if 'caseConfidence' in manifest and args.low_confidence is not None:
            manifest['caseConfidence']['lowBelow'] = args.low_confidence
        with open(path + '.tmp', 'w') as f:
            json.dump(manifest, f, indent=2)
            f.write('\n')
        os.replace(path + '.tmp', path)
        print(f'metrics written into {path}')
        return
    run = args.run if os.path.isabs(args.run) else os.path.join(os.path.dirname(__file__), args.run)
    model, ck = load_ema(run, 'last.pt')
    meta = ck['meta']
    # prompt models (train_prompts.py) are v2 models with click channels
    version = meta.get('data', 'v2' if 'prompts' in meta else 'v1')
    NAME = args.name or NAMES[version]

    out_dir = os.path.join(REPO, 'models', NAME)
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, 'model.onnx')
    export_onnx(model, meta, onnx_path)
    if meta.get('init') and 'initNote' not in meta:
        # read before the compact checkpoint below may replace the one this run started from
        meta['initNote'] = fine_tune_note(meta)
    # the exact weights behind the shipped ONNX, for make_fixtures.py and evaluate.py
    torch.save({'ema': model.state_dict(), 'meta': meta, 'iter': ck['iter']}, os.path.join(run, 'exported.pt'))
    if version == 'v2':
        # compact (float16) weights to continue training from a clean checkout: train.py --init
        os.makedirs(os.path.join(REPO, 'models', 'train', 'checkpoints'), exist_ok=True)
        save_compact(dict(ck, meta=meta), os.path.join(REPO, 'models', 'train', 'checkpoints', NAME + '.pt'))

    max_err = onnx_check(model, meta, version, onnx_path)

    metrics = json.load(open(args.metrics)) if args.metrics else None
    git = subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True, cwd=REPO).stdout.strip()
    if version == 'v2':
        manifest = manifest_v2(NAME, meta, ck['iter'], args, metrics, model, git, max_err)
    else:
        manifest = manifest_v1(NAME, meta, ck, args, metrics, model, git, max_err)
    with open(os.path.join(out_dir, 'manifest.json.tmp'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    os.replace(os.path.join(out_dir, 'manifest.json.tmp'), os.path.join(out_dir, 'manifest.json'))
    print(f'wrote {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.1f} MB) and manifest.json')


def manifest_v1(NAME, meta, ck, args, metrics, model, git, max_err):
    return {
        'name': NAME,
        'version': '0.1.0',
        'description': 'Whole-tumour (label > 0) conditional diffusion segmenter, FLAIR + T1c, axial slices. '
                       'Wolleb et al. 2022 method (image concatenated with the noisy mask), scaled down for CPU.',
        'file': 'model.onnx',
        'channels': CHANNELS,
        'preprocess': {'brainMask': 'not-mode', 'normalise': 'zscore-brain', 'clip': list(CLIP),
                       'inputSize': list(INPUT_SIZE), 'resize': 'bilinear', 'sliceAxis': 2},
        'schedule': {'kind': 'linear', 'timesteps': 1000, 'betaStart': 1e-4, 'betaEnd': 0.02},
        'prediction': meta.get('prediction', 'x0'),
        'maskScale': 'pm1',
        'recommended': {'sampler': 'ddim', 'steps': args.steps, 'members': args.members, 'eta': 1.0},
        'training': {
            'data': 'BraTS 2015 (4 subjects redistributed with the DeepMedic examples), FLAIR + T1c, whole tumour = label > 0',
            'subjects': TRAIN_SUBJECTS,
            'heldOut': [HELD_OUT],
            'licence': 'CC BY-NC-SA 3.0 (BraTS 2015 data; Menze et al. 2015)',
            'notes': f"{ck['iter']} iterations, batch {meta['batch']}, AdamW lr {meta['lr']}, EMA {meta['ema']}, "
                     'flips/rotations/scaling/intensity jitter, 70% tumour slices per batch',
        },
        'metrics': metrics or {},
        'provenance': provenance(meta, model, git, max_err),
    }


if __name__ == '__main__':
    main()
