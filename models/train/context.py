"""Through-plane context (train.py --context N, an experiment: loso-context-arm.json): the FLAIR of
the N slices below and the N above a slice join its input as extra channels, so that the network
sees whether a faint signal continues through the slices.

Neighbours are taken in the order of the model frame's slices (ModelFrame.slices, the order
build_cache.py stores them in), whatever the slice thickness; at the first and last slice the edge
slice stands in for the missing one (as a replicate pad). Channel order: the slice's own channels
(data.CHANNELS), then FLAIR at offsets -N..-1, +1..+N.
"""
import numpy as np

FLAIR = 0  # the channel of data.CHANNELS whose neighbours are added


def offsets(context):
    return [o for o in range(-context, context + 1) if o != 0]


def sequence_of_channels(n_own, context):
    """The sequence each input channel shows (augment.intensity draws one change per sequence)."""
    return list(range(n_own)) + [FLAIR] * (2 * context)


def add_to_cache(image, case, thick, context, strides=(1,)):
    """image [N, C, H, W] of build_cache.py (slices of a case and thickness block in frame order),
    case [N], thick [N] -> [N, C + 2 * context * len(strides), H, W]: the neighbours at each stride in
    turn (at_stride picks one per sample; one stride, the default, is what every model so far read)."""
    if context == 0:
        return image
    n = len(image)
    starts = np.r_[0, np.nonzero((case[1:] != case[:-1]) | (thick[1:] != thick[:-1]))[0] + 1]
    ends = np.r_[starts[1:], n]
    first = np.repeat(starts, ends - starts)
    last = np.repeat(ends - 1, ends - starts)
    i = np.arange(n)
    extra = [image[np.clip(i + o * s, first, last), FLAIR][:, None] for s in strides for o in offsets(context)]
    return np.concatenate([image] + extra, 1)


def at_stride(x, choice, n_own, context):
    """x [B, n_own + 2 * context * S, H, W] (add_to_cache with S strides), choice [B] (each sample's index
    into those strides) -> [B, n_own + 2 * context, H, W]: each sample's own channels, then its neighbours
    at its stride. Training with random strides (train.py --context-strides) teaches the network to read
    its context at any distance, which the app's contextMinChange then uses (context-stride-plan.json)."""
    import torch
    k = 2 * context
    cols = n_own + choice.long()[:, None] * k + torch.arange(k, device=x.device)[None]
    rows = torch.arange(len(x), device=x.device)[:, None]
    return torch.cat([x[:, :n_own], x[rows, cols]], 1)


def nearer(x, pick, n_own, n=3):
    """x [B, n_own + 2 * context, H, W] (one stride), pick [B] bool -> the picked samples' neighbours moved
    1/n of the way from their own slice (v17-near-context-plan.json): the context of a real slice in a stack
    resampled n times thinner (rewritings.thin_slices), whose neighbours are blends 1/n of a slice away, while
    the slice itself and its reference stay as acquired (build_cache.py --thin also blends the slices)."""
    if not bool(pick.any()):
        return x
    x = x.clone()
    own = x[pick, FLAIR:FLAIR + 1]
    x[pick, n_own:] = own * (1 - 1 / n) + x[pick, n_own:] / n
    return x


def neighbour_slices(ks, p, context, stride=1):
    """The slices whose FLAIR follows slice ks[p]'s own channels, `stride` places apart
    (core/src/context-frame.ts contextSlices)."""
    return [ks[min(max(p + o * stride, 0), len(ks) - 1)] for o in offsets(context)]


MAX_STRIDE = 8
MIN_PAIR_PIXELS = 500


def slice_differences(frame, vols, up_to=MAX_STRIDE):
    """d(s), s = 1, 2, ...: median over the frame's slice pairs s apart of the mean |difference| of their
    FLAIR model input over pixels both have above the foreground floor (pairs with < 500 left out);
    stops at up_to or where no pair counts (core/src/context-frame.ts sliceDifferences). float32 sums
    there are float64 here: equal to ~1e-6."""
    floor = frame.foreground_floor[FLAIR]
    planes = [frame.model_input(vols, k)[FLAIR].astype(np.float64) for k in frame.slices]
    out = []
    for s in range(1, up_to + 1):
        pairs = []
        for p in range(len(planes) - s):
            both = (planes[p] > floor) & (planes[p + s] > floor)
            if both.sum() >= MIN_PAIR_PIXELS:
                pairs.append(np.abs(planes[p] - planes[p + s])[both].mean())
        if not pairs:
            break
        out.append(float(np.median(pairs)))
    return out


def context_stride(frame, vols, min_change):
    """The neighbours' stride (manifest contextMinChange; context-stride-plan.json): the smallest s whose
    d(s) reaches min_change, else the largest s measured; 1 when min_change is None."""
    return 1 if min_change is None else stride_of(slice_differences(frame, vols), min_change)


def stride_of(d, min_change):
    """The stride context_stride picks from the differences d(1), d(2), ... (context-frame.ts strideOf)."""
    for s, x in enumerate(d, 1):
        if x >= min_change:
            return s
    return max(1, len(d))


def frame_inputs(frame, vols, positions, context, stride=1):
    """Model inputs [len(positions), C + 2 * context, H, W] of frame.slices[p] for p in positions,
    built the same way as add_to_cache from the whole frame's slices (neighbours `stride` apart)."""
    ks = frame.slices
    out = []
    for p in positions:
        own = frame.model_input(vols, ks[p])
        extra = [frame.model_input(vols, k)[FLAIR:FLAIR + 1] for k in neighbour_slices(ks, p, context, stride)]
        out.append(np.concatenate([own] + extra, 0))
    return np.stack(out)
