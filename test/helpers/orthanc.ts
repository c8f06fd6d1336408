import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real PACS for the tests: Debian's Orthanc (with its DICOMweb plugin) on loopback ports, with
 * a temporary storage folder and a generated configuration. `.ci/run` installs it when missing;
 * ORTHANC_MISSING says why the PACS tests are skipped on a machine without it.
 */
export const ORTHANC_BIN = '/usr/sbin/Orthanc';
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
export const ORTHANC_MISSING = existsSync(ORTHANC_BIN)
  ? undefined
  : `${ORTHANC_BIN} is not installed (apt-get install orthanc orthanc-dicomweb; .ci/run does it)`;

export const ORTHANC_AET = 'ORTHANC_TEST';

export interface OrthancOptions {
  /** The AE titles Orthanc knows (C-GET/C-MOVE/C-FIND are refused to others). */
  knownAets?: { aet: string; port: number }[];
  /** Extra configuration keys (override the defaults). */
  config?: Record<string, unknown>;
}

export interface Orthanc {
  aet: string;
  dicomPort: number;
  httpPort: number;
  rest: string;
  dicomweb: string;
  dir: string;
  /** GET/POST against the REST API; throws on a non-2xx status. */
  get<T = unknown>(path: string): Promise<T>;
  getBytes(path: string): Promise<Uint8Array>;
  upload(files: string[]): Promise<{ ID: string; ParentStudy: string }[]>;
  /** What Orthanc printed (for a failing test's message). */
  log(): string;
  /**
   * Freezes Orthanc (SIGSTOP) until `resume()`: a transfer under way then stays under way for as
   * long as a test needs, whatever the machine's load (a PACS that stops answering mid-study).
   */
  pause(): void;
  resume(): void;
  /** Stops Orthanc and removes its folder (storage, index, log). */
  stop(): Promise<void>;
}

/** A port free on 127.0.0.1 now (the OS picks it). */
function osPort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

/** The ports freePort handed out in this process: one is not listened on until later, so the OS may offer it again. */
const handedOut = new Set<number>();

/**
 * A port free on 127.0.0.1 now and not handed out before by this process: Orthanc's DICOM and HTTP
 * ports, and a test's own SCP port, are asked for one after another and each is only listened on
 * later, so the OS may give the same one twice (it did: Orthanc then found its HTTP port taken).
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await osPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: the OS kept offering ports already handed out');
}

/** Every .dcm file under `dir` (recursively), sorted. */
export function dicomFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...dicomFiles(p));
    else if (name.endsWith('.dcm')) out.push(p);
  }
  return out;
}

/** Orthanc stopped at start because one of its ports was taken meanwhile (by another test process). */
class PortTakenError extends Error {}

export async function startOrthanc(opts: OrthancOptions = {}): Promise<Orthanc> {
  if (ORTHANC_MISSING) throw new Error(ORTHANC_MISSING);
  // a port free when asked for may be taken before Orthanc binds it: new ports, at most three times
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (!(e instanceof PortTakenError) || attempt === 3) throw e;
    }
  }
}

async function startOnce(opts: OrthancOptions): Promise<Orthanc> {
  const dir = join(tmpdir(), `quorum-orthanc-${process.pid}-${Date.now()}`);
  mkdirSync(join(dir, 'db'), { recursive: true });
  const dicomPort = await freePort();
  const httpPort = await freePort();
  const modalities: Record<string, [string, string, number]> = {};
  for (const m of opts.knownAets ?? []) modalities[m.aet.toLowerCase()] = [m.aet, '127.0.0.1', m.port];
  const config = {
    Name: 'QuorumTestPACS',
    DicomAet: ORTHANC_AET,
    DicomPort: dicomPort,
    HttpPort: httpPort,
    StorageDirectory: join(dir, 'db'),
    IndexDirectory: join(dir, 'db'),
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomCheckCalledAet: true,
    DicomCheckModalityHost: false,
    DicomAlwaysAllowEcho: false,
    DicomAlwaysAllowStore: false,
    DicomAlwaysAllowFind: false,
    DicomAlwaysAllowGet: false,
    DicomAlwaysAllowMove: false,
    DicomModalities: modalities,
    DicomScuTimeout: 10,
    DicomAssociationCloseDelay: 0,
    Plugins: existsSync(DICOMWEB_PLUGIN) ? [DICOMWEB_PLUGIN] : [],
    DicomWeb: { Enable: true, Root: '/dicom-web/' },
    HttpTimeout: 30,
    StorageCompression: false,
    ...opts.config,
  };
  const configFile = join(dir, 'orthanc.json');
  writeFileSync(configFile, JSON.stringify(config, null, 1));
  // Orthanc's output goes to a file, not a pipe: a test that blocks its event loop (spawnSync of
  // the CLI) would stop reading a pipe, and Orthanc would stall once the pipe is full.
  const logFile = join(dir, 'orthanc.log');
  const logFd = openSync(logFile, 'a');
  const proc: ChildProcess = spawn(ORTHANC_BIN, ['--verbose', configFile], {
    cwd: dir,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const rest = `http://127.0.0.1:${httpPort}`;
  const exited = new Promise<number | null>((ok) => proc.once('exit', ok));
  let up = false;
  for (let i = 0; i < 300 && !up && proc.exitCode === null; i++) {
    try {
      up = (await fetch(`${rest}/system`)).ok;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!up) {
    proc.kill('SIGKILL');
    const text = log().slice(-3000);
    rmSync(dir, { recursive: true, force: true });
    const message = `Orthanc did not start on ${rest}:\n${text}`;
    throw text.includes('already in use') ? new PortTakenError(message) : new Error(message);
  }
  const check = async (r: Response, path: string) => {
    if (!r.ok) throw new Error(`Orthanc ${path}: HTTP ${r.status} ${await r.text()}`);
    return r;
  };
  return {
    aet: ORTHANC_AET,
    dicomPort,
    httpPort,
    rest,
    dicomweb: `${rest}/dicom-web`,
    dir,
    get: async <T>(path: string) => (await (await check(await fetch(rest + path), path)).json()) as T,
    getBytes: async (path: string) =>
      new Uint8Array(await (await check(await fetch(rest + path), path)).arrayBuffer()),
    upload: async (files: string[]) => {
      const out: { ID: string; ParentStudy: string }[] = [];
      for (const f of files) {
        const r = await fetch(`${rest}/instances`, { method: 'POST', body: readFileSync(f) });
        out.push(
          (await (await check(r, `POST /instances ${f}`)).json()) as { ID: string; ParentStudy: string },
        );
      }
      return out;
    },
    log,
    pause: () => {
      proc.kill('SIGSTOP');
    },
    resume: () => {
      proc.kill('SIGCONT');
    },
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGCONT'); // a paused Orthanc would not act on SIGTERM
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
