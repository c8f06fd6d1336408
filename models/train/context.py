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


def add_to_cache(image, case, thick, context):
    """image [N, C, H, W] of build_cache.py (slices of a case and thickness block in frame order),
    case [N], thick [N] -> [N, C + 2 * context, H, W]."""
    if context == 0:
        return image
    n = len(image)
    starts = np.r_[0, np.nonzero((case[1:] != case[:-1]) | (thick[1:] != thick[:-1]))[0] + 1]
    ends = np.r_[starts[1:], n]
    first = np.repeat(starts, ends - starts)
    last = np.repeat(ends - 1, ends - starts)
    i = np.arange(n)
    extra = [image[np.clip(i + o, first, last), FLAIR][:, None] for o in offsets(context)]
    return np.concatenate([image] + extra, 1)


def neighbour_slices(ks, p, context):
    """The slices whose FLAIR follows slice ks[p]'s own channels (core/src/context-frame.ts contextSlices)."""
    return [ks[min(max(p + o, 0), len(ks) - 1)] for o in offsets(context)]


def frame_inputs(frame, vols, positions, context):
    """Model inputs [len(positions), C + 2 * context, H, W] of frame.slices[p] for p in positions,
    built the same way as add_to_cache from the whole frame's slices."""
    ks = frame.slices
    out = []
    for p in positions:
        own = frame.model_input(vols, ks[p])
        extra = [frame.model_input(vols, k)[FLAIR:FLAIR + 1] for k in neighbour_slices(ks, p, context)]
        out.append(np.concatenate([own] + extra, 0))
    return np.stack(out)
