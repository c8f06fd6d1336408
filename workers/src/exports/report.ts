import { reportCsv } from '../../../core/src/export/report.ts';
import { writeOutputFile } from '../../../core/src/node/atomic.ts';
import type { ExportInput, ExportWriter } from './writer.ts';

function reportWriter(text: (input: ExportInput) => string): Pick<ExportWriter, 'canExport' | 'write'> {
  return {
    canExport: (input) => !!input.report || 'no lesion report to write',
    write: (input, path) => {
      writeOutputFile(path, text(input), input);
      return [path];
    },
  };
}

/** The lesion report (volume, slices, uncertainty summary). Proposal folders have their own report.json. */
export const reportJson: ExportWriter = {
  format: 'report-json',
  suffix: '_report.json',
  label: 'Report JSON',
  byDefault: true,
  inProposals: false,
  ...reportWriter((input) => `${JSON.stringify(input.report, null, 2)}\n`),
};

export const reportCsvWriter: ExportWriter = {
  format: 'report-csv',
  suffix: '_report.csv',
  label: 'Report CSV',
  inProposals: false,
  ...reportWriter((input) => reportCsv(input.report!)),
};
