import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PacsEvent, PacsNode, PacsQuery } from '../../../../core/src/api-pacs.ts';
import { QuorumError } from '../../../../core/src/errors.ts';
import { checkNode, setLocalAet } from '../../pacs/nodes.ts';
import { PacsService } from '../../pacs/service.ts';
import { type CommandSpec, type Flags, intFlag, parseCommand, strFlag, UsageError } from '../args.ts';

export const summary =
  'talk to a configured PACS: echo, find studies, get a study into the cache, store DICOM files';

const SPEC: CommandSpec = {
  usage: `usage: quorum pacs <action> [options]
  nodes                                   list the configured nodes (and Quorum's AE title)
  add-node --name N --aet AET --host H --port P [--retrieve c-get|c-move --move-port P2]
           [--dicomweb URL]               add or replace a node (DIMSE, DICOMweb, or both: then
                                          DICOMweb is used). C-MOVE: Quorum listens on P2 while a
                                          move runs; the PACS must know Quorum's AE title there
  remove-node N                           remove a node
  set-aet AET                             Quorum's own (calling) AE title, default QUORUM
  echo  --node N                          C-ECHO: is the node there and does it accept Quorum?
  find  --node N [--patient-name X] [--patient-id X] [--date YYYYMMDD[-YYYYMMDD]]
        [--modality MR] [--accession X]   C-FIND of studies (wildcards * and ? allowed)
  get   --node N <StudyInstanceUID>       C-GET of a study into the study cache; prints its folder
                                          (open it with the app, 'quorum info' or 'quorum propose')
  store --node N <file.dcm>...            C-STORE of DICOM files (e.g. a SEG written by --export dicom-seg)
options:
  --node N            a node from the configuration (<state dir>/pacs-nodes.json)
  --aet A --host H --port P   a DIMSE node given here instead of --node (not saved)
  --dicomweb URL      a DICOMweb node (base URL) given here instead of --node (not saved)
  --local-aet A       Quorum's calling AE title for this command
  --state-dir DIR     where the node list and the study cache are (default $QUORUM_STATE_DIR or ~/.quorum)
  --timeout S         seconds without an answer before giving up (default 15)
  --json              machine-readable output on stdout
Progress goes to stderr, one line per image; Ctrl-C cancels a transfer. Quorum contacts no node
but the one named here.`,
  options: {
    node: { type: 'string' },
    name: { type: 'string' },
    aet: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    dicomweb: { type: 'string' },
    retrieve: { type: 'string' },
    'move-port': { type: 'string' },
    'local-aet': { type: 'string' },
    'state-dir': { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
    'patient-name': { type: 'string' },
    'patient-id': { type: 'string' },
    date: { type: 'string' },
    modality: { type: 'string' },
    accession: { type: 'string' },
  },
  maxPositionals: 10_000,
};

const ACTIONS = ['nodes', 'add-node', 'remove-node', 'set-aet', 'echo', 'find', 'get', 'store'] as const;

function stateDir(flags: Flags): string {
  return resolve(strFlag(flags, 'state-dir') ?? process.env.QUORUM_STATE_DIR ?? join(homedir(), '.quorum'));
}

function nodeFromFlags(flags: Flags, name: string): PacsNode {
  return checkNode(
    {
      name,
      aet: flags.aet,
      host: flags.host,
      port: intFlag(flags, 'port'),
      retrieve: flags.retrieve,
      movePort: intFlag(flags, 'move-port'),
      dicomweb: flags.dicomweb,
    },
    'the node',
  );
}

/** The node a transfer talks to: --node, or --aet/--host/--port given here. */
function pick(flags: Flags): { service: PacsService; node: string } {
  const timeout = intFlag(flags, 'timeout');
  if (timeout !== undefined && timeout <= 0)
    throw new QuorumError('bad-argument', '--timeout must be positive');
  const direct =
    flags.aet !== undefined ||
    flags.host !== undefined ||
    flags.port !== undefined ||
    flags.dicomweb !== undefined;
  const named = strFlag(flags, 'node');
  if (direct && named)
    throw new UsageError('give either --node or --aet/--host/--port (or --dicomweb), not both', SPEC.usage);
  if (!direct && !named)
    throw new UsageError('which PACS? give --node N (or --aet/--host/--port)', SPEC.usage);
  const adHoc = direct ? nodeFromFlags(flags, 'command-line') : undefined;
  const service = new PacsService(stateDir(flags), {
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    adHoc,
    localAet: strFlag(flags, 'local-aet'),
  });
  return { service, node: adHoc?.name ?? (named as string) };
}

/** Runs a transfer to its final event; Ctrl-C cancels it (a second Ctrl-C exits at once). */
function transfer(
  start: (onEvent: (e: PacsEvent) => void) => { transferId: string },
  cancel: (id: string) => void,
  what: string,
): Promise<Extract<PacsEvent, { type: 'done' }>> {
  return new Promise((ok, fail) => {
    let id = '';
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      process.stderr.write(`\n${what}: cancelling (Ctrl-C again to quit at once)\n`);
      cancel(id);
    };
    process.on('SIGINT', onSigint);
    const end = () => process.off('SIGINT', onSigint);
    id = start((e) => {
      if (e.type === 'progress')
        process.stderr.write(
          `${what}: ${e.done}/${e.total} image(s)${e.failed ? `, ${e.failed} failed` : ''}\n`,
        );
      else if (e.type === 'done') {
        end();
        ok(e);
      } else if (e.type === 'cancelled') {
        end();
        fail(new QuorumError('cancelled', `${what} cancelled after ${e.done} image(s)`));
      } else if (e.type === 'error') {
        end();
        fail(new QuorumError('network', e.message));
      }
    }).transferId;
  });
}

function print(flags: Flags, value: unknown, text: string): void {
  console.log(flags.json ? JSON.stringify(value, null, 2) : text);
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(argv, SPEC);
  if (args === 'help') {
    console.log(SPEC.usage);
    return 0;
  }
  const { flags, positional } = args;
  const [action, ...rest] = positional;
  if (!action) throw new UsageError('which action?', SPEC.usage);
  if (!(ACTIONS as readonly string[]).includes(action))
    throw new UsageError(`unknown action '${action}' (one of ${ACTIONS.join(', ')})`, SPEC.usage);
  const takes =
    action === 'store'
      ? Number.POSITIVE_INFINITY
      : ['get', 'remove-node', 'set-aet'].includes(action)
        ? 1
        : 0;
  if (rest.length > takes) throw new UsageError(`unexpected argument '${rest[takes]}'`, SPEC.usage);
  const dir = stateDir(flags);
  switch (action) {
    case 'nodes': {
      const c = new PacsService(dir).config();
      const lines = [`Quorum's AE title: ${c.localAet}  (${c.file})`];
      for (const n of c.nodes)
        lines.push(
          `${n.name}\t${[n.aet && `${n.aet}@${n.host}:${n.port}`, n.dicomweb].filter(Boolean).join('\t')}`,
        );
      if (!c.nodes.length)
        lines.push("no nodes yet: 'quorum pacs add-node --name N --aet AET --host H --port P'");
      print(flags, c, lines.join('\n'));
      return 0;
    }
    case 'add-node': {
      const name = strFlag(flags, 'name');
      if (!name) throw new UsageError('add-node needs --name', SPEC.usage);
      const c = new PacsService(dir).saveNode(nodeFromFlags(flags, name));
      print(flags, c, `saved ${name} in ${c.file}`);
      return 0;
    }
    case 'remove-node': {
      if (!rest[0]) throw new UsageError('remove-node needs the node name', SPEC.usage);
      const c = new PacsService(dir).removeNode(rest[0]);
      print(flags, c, `removed ${rest[0]} from ${c.file}`);
      return 0;
    }
    case 'set-aet': {
      if (!rest[0]) throw new UsageError('set-aet needs the AE title', SPEC.usage);
      const c = setLocalAet(dir, rest[0]);
      print(flags, c, `Quorum's AE title is now ${c.localAet} (${c.file})`);
      return 0;
    }
    case 'echo': {
      const { service, node } = pick(flags);
      const r = await service.echo(node);
      print(flags, { node, ...r }, `${node}: C-ECHO ok in ${r.ms} ms`);
      return 0;
    }
    case 'find': {
      const { service, node } = pick(flags);
      const q: PacsQuery = {
        patientName: strFlag(flags, 'patient-name'),
        patientId: strFlag(flags, 'patient-id'),
        studyDate: strFlag(flags, 'date'),
        modality: strFlag(flags, 'modality'),
        accession: strFlag(flags, 'accession'),
      };
      const studies = await service.find(node, q);
      const lines = studies.map(
        (s) =>
          `${s.studyInstanceUid}\t${s.patientName}\t${s.patientId}\t${s.studyDate}\t${s.modalities.join(',')}\t${s.accession}\t${s.studyDescription}\t${s.instances ?? '?'} image(s)`,
      );
      print(flags, studies, lines.length ? lines.join('\n') : 'no matching studies');
      return 0;
    }
    case 'get': {
      if (!rest[0]) throw new UsageError('get needs the StudyInstanceUID', SPEC.usage);
      const { service, node } = pick(flags);
      const done = await transfer(
        (on) => service.retrieve(node, rest[0], on),
        (id) => service.cancel(id),
        `get ${rest[0]}`,
      );
      print(flags, done, done.folder ?? '');
      return 0;
    }
    case 'store': {
      if (!rest.length) throw new UsageError('store needs one or more DICOM files', SPEC.usage);
      for (const f of rest)
        if (!existsSync(f) || !statSync(f).isFile()) throw new QuorumError('not-found', 'no such file', f);
      const { service, node } = pick(flags);
      const done = await transfer(
        (on) =>
          service.store(
            node,
            rest.map((f) => resolve(f)),
            on,
          ),
        (id) => service.cancel(id),
        `store to ${node}`,
      );
      print(flags, done, `stored ${done.done} file(s) on ${node}`);
      return 0;
    }
  }
  return 2;
}
