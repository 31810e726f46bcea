import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One instruction of a Dockerfile, its continuation lines joined. */
export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  /** the image, ARG defaults substituted */
  from: string;
  name?: string;
  instructions: Instruction[];
}

/**
 * The subset of the Dockerfile syntax the repository's Dockerfile uses: comments, `\` line
 * continuations, ARG defaults before the first FROM, `FROM image AS name`.
 */
export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && !pending)) continue;
    const continued = line.endsWith('\\');
    pending += (pending ? ' ' : '') + (continued ? line.slice(0, -1).trim() : line);
    if (!continued) {
      logical.push(pending);
      pending = '';
    }
  }
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, rest] = /^(\S+)\s*(.*)$/.exec(line)!;
    const upper = keyword.toUpperCase();
    if (upper === 'ARG' && stages.length === 0) {
      const [name, value = ''] = rest.split('=', 2);
      args[name] = value;
    } else if (upper === 'FROM') {
      const [image, , name] = rest.split(/\s+/);
      stages.push({ from: image.replace(/\$\{(\w+)\}/g, (_, arg: string) => args[arg] ?? ''), name, instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`${keyword} before the first FROM`);
      stages[stages.length - 1].instructions.push({ keyword: upper, args: rest });
    }
  }
  return stages;
}

export function readDockerfile(root: string): Stage[] {
  return parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
}

export function instructions(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

/** The one instruction of this kind in the stage (WORKDIR, USER, CMD …); throws when there are several. */
export function single(stage: Stage, keyword: string): string {
  const found = instructions(stage, keyword);
  if (found.length !== 1) throw new Error(`expected one ${keyword} in stage ${stage.name}, found ${found.length}`);
  return found[0];
}

/** `--name=value` flags in front of an instruction's arguments, and what follows them. */
export function flags(args: string): { flags: Record<string, string>; rest: string } {
  const found: Record<string, string> = {};
  let rest = args;
  for (let match = /^--([\w-]+)=(\S+)\s+/.exec(rest); match; match = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
    found[match[1]] = match[2];
    rest = rest.slice(match[0].length);
  }
  return { flags: found, rest };
}

export interface Copy {
  from?: string;
  sources: string[];
  destination: string;
}

export function copies(stage: Stage): Copy[] {
  return instructions(stage, 'COPY').map((args) => {
    const { flags: given, rest } = flags(args);
    const paths = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
    return { from: given.from, sources: paths.slice(0, -1), destination: paths[paths.length - 1] };
  });
}

/** The variables of one ENV instruction, in the `NAME=value` form (values without spaces or quotes). */
export function envPairs(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of args.split(/\s+/)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`ENV ${args}: only NAME=value pairs are understood here`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

/** Every ENV of the stage. */
export function environment(stage: Stage): Record<string, string> {
  return Object.assign({}, ...instructions(stage, 'ENV').map(envPairs)) as Record<string, string>;
}

/** An exec-form command (CMD, ENTRYPOINT, HEALTHCHECK's CMD) as its argument list. */
export function execForm(args: string): string[] {
  if (!args.startsWith('[')) throw new Error(`not the exec form (a JSON array): ${args}`);
  return JSON.parse(args) as string[];
}

/**
 * Whether .dockerignore lets `path` (relative, with /) into the build context: the last pattern
 * that matches it or one of its parent folders decides, a `!` pattern letting it in.
 */
export function inContext(ignoreFile: string, path: string): boolean {
  const patterns = ignoreFile
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let included = true;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const regex = globRegex(negated ? pattern.slice(1) : pattern);
    if (prefixes.some((prefix) => regex.test(prefix))) included = negated;
  }
  return included;
}

function globRegex(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith('**/', i)) {
      source += '(?:.*/)?';
      i += 2;
    } else if (glob.startsWith('**', i)) {
      source += '.*';
      i += 1;
    } else if (glob[i] === '*') source += '[^/]*';
    else if (glob[i] === '?') source += '[^/]';
    else source += glob[i].replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source.replace(/\/$/, '')}$`);
}
