"""The model card the app shows (About the model): what the model is for, what to expect, where it fails.

Every number in it is read from the measurements in the model folder, never typed: the manifest's
held-out metrics (evaluate_v2.py), the site folds' prediction (predict_unseen.py -> unseen-prediction.json)
and the robustness rows (robustness.py -> robustness-vX.Y.json, robustness-healthy-vX.Y.json of the model's version). The card
is written into manifest.json as `card` (core/src/manifest.ts ModelCard); `--check` says whether the
manifest's card is the one these measurements give (npm test runs it, so a new measurement cannot
leave the app showing an old one).

  /usr/bin/python3 models/train/model_card.py [--model models/quorum-wt-v2] [--write | --check]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.normpath(os.path.join(HERE, '..', 'quorum-wt-v2'))

INTENDED_USE = ('A first draft of the whole tumour of a brain glioma (the FLAIR abnormality: oedema, enhancing and '
                'necrotic parts together) on FLAIR + T1c, for a reader to check and correct. Not a diagnosis, not '
                'tumour sub-regions.')


def load(folder, name):
    with open(os.path.join(folder, name)) as f:
        return json.load(f)


def group(summary, method, name):
    g = summary[name]
    return g['cases'], g[method]


def card(folder):
    m = load(folder, 'manifest.json')
    method = 'v' + m['version']
    summary = m['metrics']['summary']
    p = load(folder, 'unseen-prediction.json')
    # the robustness rows of this version (robustness-v9.1.json for 9.1.x): a new version has none until measured
    release = '.'.join(m['version'].split('.')[:2])
    rob = load(folder, f'robustness-v{release}.json')
    healthy = load(folder, f'robustness-healthy-v{release}.json')
    low = m['caseConfidence']['lowBelow']
    pt, size, flag = p['patient'], p['by_lesion_size'], p['flag']
    small_key = next(k for k in size if k.startswith('under'))

    n_fg, fg = group(summary, method, 'TCGA-LGG unseen site (FG)')
    n_up, up = group(summary, method, 'TCGA-LGG unseen patients')
    n_all, every = group(summary, method, 'all held-out')
    brats = [summary[k][method]['dice'] for k in summary if k.startswith('BraTS') or k.startswith('brainlesion')]

    def drop(case, rewriting):
        return rob[f'{case}/identity']['dice'] - rob[f'{case}/{rewriting}']['dice']

    moved = [drop(c, 't1c_moved') for c in ('TCGA_FG_6689_20020326', 'TCGA_CS_6669_20020102')]
    thick = max(drop(c, 'thick_flair') for c in ('brats_2013_pat0003', 'brats_tcia_pat222'))
    slabs = max(drop(c, 'thick_flair') for c in ('TCGA_FG_6689_20020326', 'TCGA_CS_6669_20020102'))
    lesion_free = [r for k, r in healthy.items() if k.endswith('/healthy_mirror') and r['reference_ml'] == 0]
    return {
        'intendedUse': INTENDED_USE,
        'trainedOn': f"{m['training']['data']}. {len(m['training']['heldOut'])} more cases held out to validate it.",
        'expected': [
            f"A patient of a hospital it never saw: Dice {pt['mean']:.2f} on average (95% interval "
            f"{pt['mean_ci95_patients_resampled'][0]:.2f}-{pt['mean_ci95_patients_resampled'][1]:.2f}), median "
            f"{pt['median']:.2f}, {round(100 * pt['below_0_5']['share'])}% of patients below 0.5. From {p['data']}, "
            'each scored by a network that never saw its site.',
            f"The site this model never saw (TCGA-LGG FG, {n_fg} patients): {fg['dice']:.2f}, lowest {fg['min_dice']:.2f}; "
            f"new patients of its training sites ({n_up}): {up['dice']:.2f}, lowest {up['min_dice']:.2f}.",
            f"Skull-stripped BraTS scans ({len(brats)}): {min(brats):.2f}-{max(brats):.2f}.",
            f"The uncertainty map separates wrong voxels from right ones with an AUROC of {every['auroc']:.2f} "
            f"({n_all} held-out cases).",
            f"A case flagged low confidence (below {low}) averaged {flag['flagged_mean']:.2f}, one not flagged "
            f"{flag['unflagged_mean']:.2f}, and none of those below 0.7 ({flag['unflagged_below_0_7']['count']}): "
            'review flagged cases first.',
        ],
        'limitations': [
            f"Small lesions: {small_key} the site folds averaged {size[small_key]['mean']:.2f}, "
            f"{size[small_key]['below_0_5']['count']} below 0.5, most of each lesion marked by no member; "
            f"{flag['below_0_7_flagged']} patients below 0.7 were flagged. Check a small or empty proposal against "
            'the FLAIR.',
            'Lesions faint on FLAIR and dark (cystic or necrotic) centres tend to be under-segmented; the edge is '
            "grown by the scan's own FLAIR contrast, up to 3 mm.",
            f"Series acquired apart: a T1c moved 3 degrees and 3.6 mm cost two TCGA heads {moved[0]:.2f} and "
            f"{moved[1]:.2f} Dice; open such studies with rigid registration (Align sequences in the Open dialog).",
            f"A thick 2-D FLAIR beside a thin 3-D T1c: 5 mm beside 1 mm cost BraTS cases at most {thick:.2f}, "
            f"FLAIR slabs of 1.5-3 cm up to {slabs:.2f}.",
            f"A scan without a lesion: at most {max(r['ml'] for r in lesion_free):.2f} mL proposed on "
            f"{len(lesion_free)} lesion-free heads, but flagged low confidence, so it is listed first for review.",
            'Validated on gliomas only (lower-grade and glioblastoma): not on metastases, lymphoma, stroke, '
            'post-operative cavities or children.',
        ],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default=DEFAULT_MODEL)
    what = ap.add_mutually_exclusive_group()
    what.add_argument('--write', action='store_true', help="write the card into the model's manifest.json")
    what.add_argument('--check', action='store_true', help="exit 1 when the manifest's card is not this one")
    args = ap.parse_args()
    try:
        c = card(args.model)
    except (OSError, KeyError, StopIteration, ValueError) as e:
        # a measurement the card quotes is missing (a new version not yet measured, a renamed group)
        what = f'{e.filename}: {e.strerror}' if isinstance(e, OSError) else f'no {e!r} in its measurements'
        sys.exit(f'{args.model}: cannot write its card: {what}')
    path = os.path.join(args.model, 'manifest.json')
    if args.check:
        stored = load(args.model, 'manifest.json').get('card')
        if stored != c:
            sys.exit(f'{path}: its card is not the one its measurements give: run models/train/model_card.py --write')
        print(f'{path}: card up to date')
        return
    if args.write:
        with open(path) as f:
            m = json.load(f)
        m['card'] = c
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(m, f, indent=2, ensure_ascii=False)
            f.write('\n')
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    print(json.dumps(c, indent=1, ensure_ascii=False))


if __name__ == '__main__':
    main()
