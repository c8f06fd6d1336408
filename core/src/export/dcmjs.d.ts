// Minimal typing of the part of dcmjs (pure JS, no bundled types) that Quorum uses.
declare module 'dcmjs' {
  type Naturalized = Record<string, unknown>;
  export const data: {
    DicomMetaDictionary: {
      denaturalizeDataset(ds: Naturalized): Record<string, unknown>;
      naturalizeDataset(ds: Record<string, unknown>): Naturalized;
    };
    DicomDict: new (
      meta: Record<string, unknown>,
    ) => {
      dict: Record<string, unknown>;
      meta: Record<string, unknown>;
      write(opts?: Record<string, unknown>): ArrayBuffer;
    };
    DicomMessage: {
      readFile(
        buffer: ArrayBuffer,
        opts?: Record<string, unknown>,
      ): { dict: Record<string, unknown>; meta: Record<string, unknown> };
    };
  };
  export const log: { getLevel(): number; setLevel(level: number | string): void };
  const dcmjs: { data: typeof data; log: typeof log };
  export default dcmjs;
}
