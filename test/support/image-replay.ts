import { execSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync } from 'node:fs';
import { basename, join, posix, relative } from 'node:path';
import { envPairs, flags, inContext, readDockerfile, Stage } from './dockerfile';

/**
 * The Dockerfile's stages replayed as a plain install, without a container engine: each stage's
 * WORKDIR is a folder of its own, instructions run in order. COPY from the build context copies
 * from the checkout through .dockerignore; COPY --from moves out of the other stage's folder. RUN
 * of the build and deps stages runs in their folder, with three differences, about install
 * scripts and time:
 * - the build stage's full `npm ci` is the checkout's own node_modules (linked; the same lockfile);
 * - `npm ci --omit=dev` runs with --ignore-scripts and --prefer-offline (npm's cache), then the
 *   build/ folder of each production package whose install script package.json's allowScripts
 *   lets run (better-sqlite3's native module) is copied from the checkout, where this Node built
 *   it for this platform, as the deps stage builds it;
 * - the runtime stage's RUN (Debian packages, the /data folder) is not replayed: the spec checks
 *   what it stands for (the volume, the user) from the Dockerfile's text.
 */
export interface ReplayedImage {
  stages: Stage[];
  runtime: Stage;
  /** the runtime stage's WORKDIR, installed */
  app: string;
}

export function replayImage(root: string, folder: string): ReplayedImage {
  const stages = readDockerfile(root);
  const ignore = readFileSync(join(root, '.dockerignore'), 'utf8');
  const done = new Map<string, { folder: string; workdir: string }>();
  let app = '';
  stages.forEach((stage, index) => {
    const runtime = index === stages.length - 1;
    const stageFolder = join(folder, stage.name ?? `stage-${index}`);
    mkdirSync(stageFolder, { recursive: true });
    let workdir = '/';
    let env: NodeJS.ProcessEnv = { ...process.env };
    for (const { keyword, args } of stage.instructions) {
      if (keyword === 'WORKDIR') workdir = args;
      else if (keyword === 'ENV') env = { ...env, ...envPairs(args) };
      else if (keyword === 'RUN' && !runtime) run(root, args, stageFolder, env);
      else if (keyword === 'COPY') {
        const { flags: given, rest } = flags(args);
        const paths = rest.split(/\s+/);
        const destination = paths.pop()!;
        for (const source of paths) {
          const target = targetOf(stageFolder, workdir, destination, source, paths.length > 1);
          if (given.from) {
            const other = done.get(given.from);
            if (!other) throw new Error(`COPY --from=${given.from}: no such stage before this one`);
            if (!source.startsWith(`${other.workdir}/`)) throw new Error(`COPY ${source}: outside ${other.workdir}`);
            moveFrom(join(other.folder, source.slice(other.workdir.length + 1)), target);
          } else {
            copyFromContext(root, ignore, source, target);
          }
        }
      }
    }
    if (stage.name) done.set(stage.name, { folder: stageFolder, workdir });
    if (runtime) app = stageFolder;
  });
  return { stages, runtime: stages[stages.length - 1], app };
}

/** Where COPY puts `source`: a folder's contents into the destination; into it when it ends in / or several are copied. */
function targetOf(folder: string, workdir: string, destination: string, source: string, several: boolean): string {
  if (destination.startsWith('/') && !destination.startsWith(`${workdir}/`)) {
    throw new Error(`COPY to ${destination}: only paths under the WORKDIR are replayed`);
  }
  const inside = destination.startsWith('/') ? destination.slice(workdir.length + 1) : destination;
  const into = inside.endsWith('/') || several;
  return join(folder, inside, into ? basename(source) : '');
}

/** A RUN line of the build or deps stage, in the stage's folder. */
function run(root: string, command: string, folder: string, env: NodeJS.ProcessEnv): void {
  const npmCi = /^npm ci\b/.test(command);
  if (npmCi && !/--omit=dev\b/.test(command)) {
    symlinkSync(join(root, 'node_modules'), join(folder, 'node_modules'), 'dir');
    return;
  }
  const replayed = npmCi ? command.replace(/^npm ci\b/, 'npm ci --ignore-scripts --prefer-offline') : command;
  try {
    execSync(replayed, { cwd: folder, env, stdio: 'pipe', timeout: 900_000 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`RUN ${replayed} failed:\n${String(stdout ?? '')}${String(stderr ?? '')}`);
  }
  if (npmCi) copyNativeBuilds(root, folder);
}

/** The build/ folder of every production package whose install script package.json allows. */
function copyNativeBuilds(root: string, folder: string): void {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }>;
  };
  const { allowScripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    allowScripts: Record<string, boolean>;
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    const name = path.replace(/^.*node_modules\//, '');
    if (entry.dev || !entry.hasInstallScript || allowScripts[name] !== true) continue;
    const build = join(root, path, 'build');
    if (existsSync(build) && existsSync(join(folder, path))) {
      cpSync(build, join(folder, path, 'build'), { recursive: true });
    }
  }
}

function copyFromContext(root: string, ignore: string, source: string, target: string): void {
  const from = join(root, source);
  const included = (path: string) => inContext(ignore, relative(root, path).split('/').join(posix.sep));
  if (!existsSync(from) || !included(from)) throw new Error(`COPY ${source}: not in the build context`);
  cpSync(from, target, { recursive: true, filter: included });
}

function moveFrom(from: string, target: string): void {
  if (!existsSync(from)) throw new Error(`COPY --from: ${from} was not made by its stage`);
  if (existsSync(target) && statSync(target).isDirectory()) cpSync(from, target, { recursive: true });
  else renameSync(from, target);
}
