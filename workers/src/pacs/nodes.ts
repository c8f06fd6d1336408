import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PacsConfig, PacsNode } from '../../../core/src/api-pacs.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { PACS_RETRIEVES, type PacsRetrieve } from '../../../core/src/lists.ts';
import { writeFileAtomic } from '../../../core/src/node/atomic.ts';

/**
 * The DICOM nodes the user configured, in <stateDir>/pacs-nodes.json:
 *   { "localAet": "QUORUM", "nodes": [{ "name": "pacs", "aet": "ORTHANC", "host": "10.0.0.5", "port": 4242 }] }
 * Quorum talks to these nodes only; every entry is checked when read so a typo is reported with
 * the file and the field, not as a network error later.
 */
export const DEFAULT_LOCAL_AET = 'QUORUM';
export const NODES_FILE = 'pacs-nodes.json';

/** AE titles: 1-16 characters of the DICOM default repertoire, no backslash or control characters. */
export function checkAet(aet: unknown, what: string): string {
  if (typeof aet !== 'string' || !/^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(aet) || aet.trim() === '')
    throw new QuorumError(
      'bad-argument',
      `${what} must be an AE title of 1 to 16 printable characters (no backslash), got ${JSON.stringify(aet)}`,
    );
  return aet.trim();
}

export function checkNode(n: unknown, where = 'node'): PacsNode {
  const o = (n ?? {}) as Record<string, unknown>;
  if (typeof n !== 'object' || n === null)
    throw new QuorumError('bad-argument', `${where} must be an object`);
  const name = o.name;
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name))
    throw new QuorumError(
      'bad-argument',
      `${where}: name must be 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`,
    );
  const node: PacsNode = { name };
  const dimse = o.aet !== undefined || o.host !== undefined || o.port !== undefined;
  if (dimse) {
    node.aet = checkAet(o.aet, `${where} ${name}: aet`);
    const host = o.host;
    if (typeof host !== 'string' || !/^[\w.:[\]-]{1,253}$/.test(host))
      throw new QuorumError(
        'bad-argument',
        `${where} ${name}: host must be a host name or IP address, got ${JSON.stringify(host)}`,
      );
    node.host = host;
    const port = o.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
      throw new QuorumError(
        'bad-argument',
        `${where} ${name}: port must be an integer 1-65535, got ${JSON.stringify(port)}`,
      );
    node.port = port;
    if (o.retrieve !== undefined) {
      if (!(PACS_RETRIEVES as readonly unknown[]).includes(o.retrieve))
        throw new QuorumError(
          'bad-argument',
          `${where} ${name}: retrieve must be one of ${PACS_RETRIEVES.join(', ')}, got ${JSON.stringify(o.retrieve)}`,
        );
      node.retrieve = o.retrieve as PacsRetrieve;
    }
    const movePort = o.movePort;
    if (movePort !== undefined || node.retrieve === 'c-move') {
      if (typeof movePort !== 'number' || !Number.isInteger(movePort) || movePort < 1 || movePort > 65535)
        throw new QuorumError(
          'bad-argument',
          `${where} ${name}: C-MOVE needs movePort, the port Quorum listens on (1-65535), got ${JSON.stringify(movePort)}`,
        );
      node.movePort = movePort;
    }
  }
  if (o.dicomweb !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(String(o.dicomweb));
    } catch {}
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.search)
      throw new QuorumError(
        'bad-argument',
        `${where} ${name}: dicomweb must be an http(s) base URL without credentials or query, got ${JSON.stringify(o.dicomweb)}`,
      );
    node.dicomweb = url.href.replace(/\/+$/, '');
  }
  if (!dimse && !node.dicomweb)
    throw new QuorumError(
      'bad-argument',
      `${where} ${name}: give aet, host and port (DIMSE), or dicomweb (a URL), or both`,
    );
  return node;
}

export function nodesFile(stateDir: string): string {
  return join(stateDir, NODES_FILE);
}

/** The configuration; a missing file is an empty list, a broken one an error naming the file. */
export function readPacsConfig(stateDir: string): PacsConfig {
  const file = nodesFile(stateDir);
  if (!existsSync(file)) return { localAet: DEFAULT_LOCAL_AET, nodes: [], file };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new QuorumError('corrupt', `not valid JSON: ${(e as Error).message}`, file);
  }
  const o = (raw ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || !Array.isArray(o.nodes))
    throw new QuorumError('corrupt', `expected { "localAet": "...", "nodes": [...] }`, file);
  let nodes: PacsNode[];
  let localAet: string;
  try {
    localAet = o.localAet === undefined ? DEFAULT_LOCAL_AET : checkAet(o.localAet, 'localAet');
    nodes = o.nodes.map((n, i) => checkNode(n, `nodes[${i}]`));
  } catch (e) {
    throw new QuorumError('corrupt', (e as Error).message, file);
  }
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.name)) throw new QuorumError('corrupt', `two nodes are named ${n.name}`, file);
    seen.add(n.name);
  }
  return { localAet, nodes, file };
}

function writeConfig(stateDir: string, c: PacsConfig): PacsConfig {
  mkdirSync(stateDir, { recursive: true });
  writeFileAtomic(c.file, `${JSON.stringify({ localAet: c.localAet, nodes: c.nodes }, null, 2)}\n`);
  return c;
}

export function saveNode(stateDir: string, node: unknown): PacsConfig {
  const n = checkNode(node);
  const c = readPacsConfig(stateDir);
  return writeConfig(stateDir, { ...c, nodes: [...c.nodes.filter((x) => x.name !== n.name), n] });
}

export function removeNode(stateDir: string, name: string): PacsConfig {
  const c = readPacsConfig(stateDir);
  if (!c.nodes.some((n) => n.name === name))
    throw new QuorumError('not-found', `no PACS node named ${name} in ${c.file}`);
  return writeConfig(stateDir, { ...c, nodes: c.nodes.filter((n) => n.name !== name) });
}

export function setLocalAet(stateDir: string, aet: string): PacsConfig {
  const c = readPacsConfig(stateDir);
  return writeConfig(stateDir, { ...c, localAet: checkAet(aet, 'the local AE title') });
}

/** A configured node by name; the message lists the configured names. */
export function findNode(c: PacsConfig, name: string): PacsNode {
  const n = c.nodes.find((x) => x.name === name);
  if (!n)
    throw new QuorumError(
      'not-found',
      `no PACS node named ${name} in ${c.file} (configured: ${c.nodes.map((x) => x.name).join(', ') || 'none'})`,
    );
  return n;
}
