import { QuorumError } from '../../../core/src/errors.ts';
import { UsageError } from './args.ts';

/**
 * `quorum <command> [args]`. Each command is a module in ./commands/<name>.ts exporting
 * `summary` (one line for --help) and `run(args): Promise<number>` (the exit code).
 */
export interface CliCommand {
  summary: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS = ['info', 'propose', 'evaluate', 'propose-dataset', 'pacs'] as const;

async function load(name: string): Promise<CliCommand | undefined> {
  if (!(COMMANDS as readonly string[]).includes(name)) return undefined;
  try {
    return (await import(`./commands/${name}.ts`)) as CliCommand;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw e;
  }
}

async function usage(): Promise<string> {
  const lines = ['usage: quorum <command> [options]', '', 'commands:'];
  for (const name of COMMANDS) {
    const cmd = await load(name);
    if (cmd) lines.push(`  ${name.padEnd(16)} ${cmd.summary}`);
  }
  lines.push('', "'quorum <command> --help' describes a command's options.");
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(await usage());
    return name ? 0 : 2;
  }
  const cmd = await load(name);
  if (!cmd) {
    console.error(`quorum: unknown command '${name}'\n\n${await usage()}`);
    return 2;
  }
  try {
    return await cmd.run(args);
  } catch (e) {
    // User-caused problems get their message; anything else is a bug and keeps its stack.
    // A malformed command line exits 2 (as getopt tools do), a refused input or value 1.
    if (e instanceof UsageError) {
      console.error(`quorum ${name}: ${e.message}`);
      return 2;
    }
    if (e instanceof QuorumError) {
      console.error(`quorum ${name}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
