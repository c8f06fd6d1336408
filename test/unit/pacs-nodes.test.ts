import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../workers/src/host/paths.ts';
import { cachedStudies, StudyDownload } from '../../workers/src/pacs/cache.ts';
import { findKeys } from '../../workers/src/pacs/dimse.ts';
import { findNode, readPacsConfig, removeNode, saveNode, setLocalAet } from '../../workers/src/pacs/nodes.ts';

/**
 * The PACS node list (<state dir>/pacs-nodes.json) as a user edits it by hand or through the CLI
 * and panel: every mistake is reported with the file and the field, and the file is rewritten
 * whole (atomically) on each change. Plus the study cache's all-or-nothing folders.
 */
const dir = scratchDir('quorum-pacs-nodes');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stateWith(content: string): string {
  const d = join(dir, `s${Math.random().toString(36).slice(2)}`);
  mkdirSync(d);
  writeFileSync(join(d, 'pacs-nodes.json'), content);
  return d;
}

describe('PACS node configuration', () => {
  it('no file is an empty list with the default AE title; saving writes it', () => {
    const d = join(dir, 'fresh');
    expect(readPacsConfig(d)).toEqual({ localAet: 'QUORUM', nodes: [], file: join(d, 'pacs-nodes.json') });
    saveNode(d, { name: 'pacs', aet: 'ORTHANC', host: '10.0.0.5', port: 4242 });
    saveNode(d, { name: 'web', dicomweb: 'https://pacs.example.org/dicom-web/' });
    saveNode(d, { name: 'pacs', aet: 'ORTHANC', host: '10.0.0.6', port: 104 }); // replaces, same name
    setLocalAet(d, 'QUORUM_WS3');
    expect(JSON.parse(readFileSync(join(d, 'pacs-nodes.json'), 'utf8'))).toEqual({
      localAet: 'QUORUM_WS3',
      nodes: [
        { name: 'web', dicomweb: 'https://pacs.example.org/dicom-web' },
        { name: 'pacs', aet: 'ORTHANC', host: '10.0.0.6', port: 104 },
      ],
    });
    expect(removeNode(d, 'web').nodes.map((n) => n.name)).toEqual(['pacs']);
    expect(() => removeNode(d, 'web')).toThrow(`no PACS node named web in ${join(d, 'pacs-nodes.json')}`);
    expect(() => findNode(readPacsConfig(d), 'radiology')).toThrow(
      /no PACS node named radiology .*\(configured: pacs\)/,
    );
  });

  it('a broken file is named with what is wrong in it', () => {
    let d = stateWith('{ "nodes": [ ');
    expect(() => readPacsConfig(d)).toThrow(new RegExp(`${join(d, 'pacs-nodes.json')}: not valid JSON`));
    d = stateWith('[]');
    expect(() => readPacsConfig(d)).toThrow(/pacs-nodes.json: expected \{ "localAet"/);
    d = stateWith(JSON.stringify({ nodes: [{ name: 'pacs', aet: 'ORTHANC', host: 'h', port: 70000 }] }));
    expect(() => readPacsConfig(d)).toThrow(
      /pacs-nodes.json: nodes\[0\] pacs: port must be an integer 1-65535, got 70000/,
    );
    d = stateWith(JSON.stringify({ nodes: [{ name: 'pacs', aet: 'A\\B', host: 'h', port: 1 }] }));
    expect(() => readPacsConfig(d)).toThrow(/nodes\[0\] pacs: aet must be an AE title of 1 to 16 printable/);
    d = stateWith(
      JSON.stringify({ nodes: [{ name: 'pacs', aet: 'THIS_IS_SEVENTEEN', host: 'h', port: 1 }] }),
    );
    expect(() => readPacsConfig(d)).toThrow(/aet must be an AE title of 1 to 16/);
    d = stateWith(JSON.stringify({ nodes: [{ name: 'pacs' }] }));
    expect(() => readPacsConfig(d)).toThrow(
      /nodes\[0\] pacs: give aet, host and port \(DIMSE\), or dicomweb/,
    );
    d = stateWith(JSON.stringify({ nodes: [{ name: 'w', dicomweb: 'http://user:pw@pacs/dicom-web' }] }));
    expect(() => readPacsConfig(d)).toThrow(/dicomweb must be an http\(s\) base URL without credentials/);
    d = stateWith(JSON.stringify({ nodes: [{ name: 'a b', aet: 'X', host: 'h', port: 1 }] }));
    expect(() => readPacsConfig(d)).toThrow(/nodes\[0\]: name must be 1-64 letters/);
    d = stateWith(JSON.stringify({ localAet: '', nodes: [] }));
    expect(() => readPacsConfig(d)).toThrow(/localAet must be an AE title/);
    const two = { name: 'p', aet: 'X', host: 'h', port: 1 };
    d = stateWith(JSON.stringify({ nodes: [two, two] }));
    expect(() => readPacsConfig(d)).toThrow(/two nodes are named p/);
  });

  it('study search keys: empty fields match everything, a malformed date is refused', () => {
    expect(findKeys({})).toEqual({
      PatientName: '',
      PatientID: '',
      StudyDate: '',
      ModalitiesInStudy: '',
      AccessionNumber: '',
    });
    expect(findKeys({ patientName: ' DOE* ', studyDate: '20240101-' }).PatientName).toBe('DOE*');
    expect(findKeys({ studyDate: '-20240101' }).StudyDate).toBe('-20240101');
    expect(() => findKeys({ studyDate: '2024-01-01' })).toThrow(/YYYYMMDD or a range/);
  });
});

describe('study cache', () => {
  it('keeps a study only once complete; a discarded or restarted one leaves nothing', () => {
    const d = join(dir, 'cache');
    const a = new StudyDownload(d, '1.2.3');
    a.add('1.2.3.4', new Uint8Array([1, 2, 3]));
    expect(cachedStudies(d)).toEqual([]); // still .partial
    a.discard();
    expect(cachedStudies(d)).toEqual([]);
    const b = new StudyDownload(d, '1.2.3');
    b.add('1.2.3.4', new Uint8Array([1, 2, 3]));
    b.add('1.2.3.5', new Uint8Array([4]));
    expect(b.commit()).toBe(join(d, 'pacs-cache', '1.2.3'));
    expect(cachedStudies(d)).toEqual(['1.2.3']);
    // A UID from the network is never a path: '../x' and friends are refused.
    expect(() => new StudyDownload(d, '../../etc')).toThrow(/StudyInstanceUID must be a DICOM UID/);
    const c = new StudyDownload(d, '1.2.9');
    expect(() => c.add('1.2/../../x', new Uint8Array(1))).toThrow(
      /SOPInstanceUID of a received image must be a DICOM UID/,
    );
    c.discard();
  });
});
