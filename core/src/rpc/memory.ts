import type { Transport } from './channel.ts';
import { decodeFrame, encodeFrame } from './frame.ts';

/** The two ends of an in-memory transport, plus a way to close it (as a dropped connection would). */
export interface TransportPair<M> {
  a: Transport<M>;
  b: Transport<M>;
  close(): void;
}

/**
 * A connected pair of in-memory transports (tests; an in-process host). Delivery is asynchronous,
 * like every real transport; with `frames`, every message goes through the binary frame codec.
 */
export function createTransportPair<M>(opts: { frames?: boolean } = {}): TransportPair<M> {
  type End = { listeners: ((m: M) => void)[]; closeListeners: (() => void)[] };
  const ends: [End, End] = [
    { listeners: [], closeListeners: [] },
    { listeners: [], closeListeners: [] },
  ];
  let closed = false;
  const make = (self: End, peer: End): Transport<M> => ({
    send(msg) {
      if (closed) return;
      const copy = opts.frames ? decodeFrame<M>(encodeFrame(msg)) : msg;
      void Promise.resolve().then(() => {
        if (!closed) for (const l of peer.listeners) l(copy);
      });
    },
    onMessage: (l) => void self.listeners.push(l),
    onClose: (l) => void self.closeListeners.push(l),
  });
  return {
    a: make(ends[0], ends[1]),
    b: make(ends[1], ends[0]),
    close() {
      if (closed) return;
      closed = true;
      for (const e of ends) for (const l of e.closeListeners) l();
    },
  };
}
