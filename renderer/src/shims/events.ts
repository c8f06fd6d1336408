/**
 * Browser stand-in for Node's `events`, for vtk.js's XML readers (via xmlbuilder2) that
 * cornerstone3D bundles but the viewer never calls. Enough for `class X extends EventEmitter`.
 */
type Listener = (...args: unknown[]) => void;

export class EventEmitter {
  private handlers = new Map<string | symbol, Listener[]>();
  on(name: string | symbol, fn: Listener): this {
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), fn]);
    return this;
  }
  addListener(name: string | symbol, fn: Listener): this {
    return this.on(name, fn);
  }
  off(name: string | symbol, fn: Listener): this {
    this.handlers.set(
      name,
      (this.handlers.get(name) ?? []).filter((f) => f !== fn),
    );
    return this;
  }
  removeListener(name: string | symbol, fn: Listener): this {
    return this.off(name, fn);
  }
  emit(name: string | symbol, ...args: unknown[]): boolean {
    const list = this.handlers.get(name) ?? [];
    for (const fn of list) fn(...args);
    return list.length > 0;
  }
}

export default { EventEmitter };
