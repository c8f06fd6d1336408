"""The v2 model's manifest (core/src/manifest.ts is the contract) and its export check data."""
import datetime
import json
import os

import numpy as np
import torch

import context as through_plane
from datasets import HELD_OUT_SITE, split
from preprocess import CLIP, HIST_BINS, INPUT_SIZE, MIN_SLICE_FOREGROUND_MM2, SAMPLE_TARGET, SPACING_MM

LICENCES = {
    'tcga-lgg': 'TCGA-LGG (TCIA, CC BY 3.0); FLAIR-abnormality masks by Buda et al. 2019, '
                'Computers in Biology and Medicine 109:218 (research use)',
    'brats2015': 'BraTS 2015 (Menze et al. 2015), CC BY-NC-SA 3.0, as redistributed with the DeepMedic examples',
    'brats-raw': 'BraTS 2014/15 brats_tcia_pat222 (BraTS data terms), via ANTsXNet',
    'brainlesion (model reference)': 'BrainLesion suite example case (its repository licence); reference = a model segmentation',
}


def provenance(meta, model, git, max_err):
    """What the ONNX was exported from (both models' manifests)."""
    return {
        'arch': meta['arch'],
        'parameters': sum(p.numel() for p in model.parameters()),
        'torch': torch.__version__,
        'exported': datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ'),
        'gitCommit': git,
        'onnxVsTorchMaxAbsError': max_err,
        'opset': 17,
    }


def held_out_slices_v2(context=0):
    """Held-out model-grid slices of runs/cache-v2.npz (build_cache.py) -> (image, label) tensors;
    with a through-plane context (context.py), the neighbours' FLAIR as the model's extra channels."""
    d = np.load(os.path.join(os.path.dirname(__file__), 'runs', 'cache-v2.npz'))
    keep = ~d['train'] & ~d['thick']
    # a held-out case's kept slices are all of its native-thickness block, so its neighbours are among them
    image = through_plane.add_to_cache(d['image'][keep], d['case'][keep], d['thick'][keep], context)
    return (torch.from_numpy(image.astype(np.float32)),
            torch.from_numpy((d['label'][keep] > 127).astype(np.float32)))


def fine_tune_note(meta):
    """A run started from a committed checkpoint (train.py --init) says so: its iterations add to that one's."""
    if not meta.get('init'):
        return ''
    path = meta['init'] if os.path.isabs(meta['init']) else os.path.join(os.path.dirname(__file__), meta['init'])
    ck = torch.load(path, map_location='cpu')
    earlier = ck['meta'].get('initNote', '')
    return earlier + f"from {os.path.basename(path)}: {ck['iter']} iterations, lr {ck['meta']['lr']}; then "


def manifest_v2(name, meta, iters, args, metrics, model, git, max_err):
    train, held = split()
    return {
        'name': name,
        'version': getattr(args, 'version', None) or '2.0.0',
        'description': 'Whole-tumour conditional diffusion segmenter, FLAIR + T1c, axial slices, for scans as they '
                       'come (skull or not, any intensity scale, any voxel order, any pixel size). Wolleb et al. 2022 '
                       'method (the image conditions every denoising step; N samples; mean > 0.5; std = uncertainty), '
                       'x0 prediction for few-step DDIM, scaled down for CPU.',
        'file': 'model.onnx',
        'channels': ['flair', 't1c'],
        'preprocess': {'kind': 'head-robust-v2', 'inputSize': list(INPUT_SIZE), 'spacingMm': SPACING_MM,
                       'clip': list(CLIP), 'histogramBins': HIST_BINS, 'sampleTarget': SAMPLE_TARGET,
                       'minSliceForegroundMm2': MIN_SLICE_FOREGROUND_MM2},
        'schedule': {'kind': 'linear', 'timesteps': 1000, 'betaStart': 1e-4, 'betaEnd': 0.02},
        'prediction': meta.get('prediction', 'x0'),
        'maskScale': 'pm1',
        'recommended': {'sampler': 'ddim', 'steps': args.steps, 'members': args.members, 'eta': 1.0},
        **({'prompts': {'channels': ['positive-clicks', 'negative-clicks'], 'sigmaPx': meta['prompts']['sigma']}}
           if 'prompts' in meta else {}),
        **({'context': meta['context']} if meta.get('context') else {}),  # context.py's neighbour channels
        'caseConfidence': {'kind': 'member-agreement-dice', 'lowBelow': getattr(args, 'low_confidence', None) or 0.8},
        'training': {
            'data': f'{len(train)} patients: TCGA-LGG sites CS, DU, HT (not skull-stripped, 8-bit, thick slices) and '
                    'BraTS 2015 (skull-stripped, z-scored); FLAIR + T1c; whole tumour = reference > 0',
            'subjects': [c['name'] for c in train],
            'heldOut': [c['name'] for c in held],
            'split': {
                'rule': f'by patient; TCGA-LGG site {HELD_OUT_SITE} held out whole (leave-one-site-out fold), the '
                        'last 2 patients of each other site held out, BraTS 2015 pat0003, tcia_pat222 and the '
                        'BrainLesion case held out',
                'heldOutRoles': {c['name']: c['role'] for c in held},
            },
            'licence': '; '.join(sorted({LICENCES[c['dataset']] for c in train + held})),
            'notes': meta.get('initNote', '') + f"{iters} iterations, batch {meta['batch']}, AdamW lr {meta['lr']}, EMA {meta['ema']}, "
                     f"{int(meta['tumour_fraction'] * 100)}% tumour slices per batch; augmentation "
                     '(models/train/augment.py): flips, rotation, scaling, shift, gamma, bias field, contrast, '
                     'noise, blur, low resolution, simulated 5 mm slices, T1c replaced by FLAIR',
        },
        'metrics': metrics or {},
        'provenance': {**provenance(meta, model, git, max_err),
                       'trainingConfig': json.loads(json.dumps(meta, default=str))},
    }
