/** One row of `npm run bench`: each bench/*.bench.ts module returns some of these. */
export interface BenchRow {
  group: string;
  name: string;
  value: number;
  unit: string;
  /** What the number is compared against, if the issue states a goal. */
  goal?: string;
  note?: string;
}

export interface BenchModule {
  title: string;
  run(): Promise<BenchRow[]>;
}
