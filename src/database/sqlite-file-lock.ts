import { createHash, randomBytes } from 'node:crypto';
import { linkSync, lstatSync, realpathSync, renameSync, unlinkSync } from 'node:fs';
import { connect, createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** Linux's sun_path holds 108 bytes with the closing NUL; libuv cuts a longer path short without a word. */
export const MAX_SOCKET_PATH = 107;
/** macOS and the BSDs: 104 bytes. */
const MAX_SOCKET_PATH_ELSEWHERE = 103;

/** How long a check waits for the holder to say its pid (it answers at once; this only bounds a hung one). */
const PROBE_TIMEOUT_MS = 2_000;

/** Binds lost to another instance in a row before this one gives up (each loss means a live one). */
const ATTEMPTS = 3;

/** Another live instance holds the lock of the file. */
export class DatabaseFileInUse extends Error {
  constructor(
    /** where the lock is (an abstract socket shown with a leading @) */
    readonly lock: string,
    readonly pid?: number,
  ) {
    super(`another instance uses that file${pid ? ` (pid ${pid})` : ''}; its lock is ${lock}`);
    this.name = 'DatabaseFileInUse';
  }
}

/**
 * `<real path>.lock` beside the file, so every path to it finds one lock; too long for a socket, a
 * name hashed from the real path, abstract on Linux, in the temp dir elsewhere (ADR 0004).
 */
export function lockAddress(realFile: string, platform: NodeJS.Platform = process.platform): string {
  const beside = `${realFile}.lock`;
  const max = platform === 'linux' ? MAX_SOCKET_PATH : MAX_SOCKET_PATH_ELSEWHERE;
  if (Buffer.byteLength(beside) <= max) return beside;
  const name = `phone-verify-${createHash('sha256').update(realFile).digest('hex').slice(0, 32)}.lock`;
  return platform === 'linux' ? `\0${name}` : join(tmpdir(), name);
}

const isAbstract = (address: string) => address.startsWith('\0');
const shown = (address: string) => (isAbstract(address) ? `@${address.slice(1)}` : address);

/** A listening Unix socket only one process can bind, closed by the kernel however it dies (ADR 0004). */
export class SqliteFileLock {
  private readonly peers = new Set<Socket>();
  private released?: Promise<void>;

  private constructor(
    readonly address: string,
    private readonly server: Server,
  ) {
    server.on('connection', (socket) => {
      this.peers.add(socket);
      socket.on('close', () => this.peers.delete(socket));
      socket.on('error', () => undefined);
      socket.end(`${process.pid}\n`);
    });
    // a lock is no reason to keep the process alive
    server.unref();
  }

  /**
   * Takes the lock of `file`; undefined for `:memory:` and for a path that does not resolve (opening
   * it fails then, and says why). Throws DatabaseFileInUse while another live process holds it, and
   * the system's error when no lock can be made here (a directory we may not write, say).
   */
  static async acquire(file: string): Promise<SqliteFileLock | undefined> {
    if (file === '' || file.startsWith(':memory:')) return undefined;
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      return undefined;
    }
    const address = lockAddress(real);
    for (let attempt = 1; ; attempt++) {
      const server = await bind(address);
      if (server) return new SqliteFileLock(address, server);
      const holder = await probe(address);
      // an abstract name vanishes with its socket: one that is bound is held, listening or not
      if (holder.state === 'live' || (holder.state === 'stale' && isAbstract(address)) || attempt === ATTEMPTS) {
        throw new DatabaseFileInUse(shown(address), holder.state === 'live' ? holder.pid : undefined);
      }
      if (holder.state === 'stale') await removeStale(address);
    }
  }

  /** Closes the socket; libuv unlinks its file. Safe to call more than once. */
  release(): Promise<void> {
    this.released ??= new Promise<void>((done) => {
      this.server.close(() => done());
      for (const peer of this.peers) peer.destroy();
    });
    return this.released;
  }
}

function bind(address: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(undefined) : reject(error),
    );
    server.listen(address, () => {
      server.removeAllListeners('error');
      server.on('error', () => undefined);
      resolve(server);
    });
  });
}

type Holder = { state: 'live'; pid?: number } | { state: 'stale' } | { state: 'gone' };

/** Connects to the lock: a holder answers with its pid; a socket file nobody listens on refuses. */
async function probe(address: string): Promise<Holder> {
  if (!isAbstract(address)) {
    try {
      // a file that is no socket is somebody's: never removed
      if (!lstatSync(address).isSocket()) {
        throw Object.assign(new Error(`${address} exists and is not a socket`), { code: 'EEXIST' });
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'gone' };
      throw error;
    }
  }
  return new Promise((resolve, reject) => {
    const socket = connect(address);
    let connected = false;
    let said = '';
    let failure: NodeJS.ErrnoException | undefined;
    const timer = setTimeout(() => socket.destroy(), PROBE_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('connect', () => (connected = true));
    socket.on('data', (chunk: string) => (said += chunk));
    socket.on('error', (error) => (failure = error));
    socket.on('close', () => {
      clearTimeout(timer);
      const pid = Number.parseInt(said, 10);
      if (connected || !failure) resolve({ state: 'live', pid: pid > 0 ? pid : undefined });
      else if (failure.code === 'ECONNREFUSED') resolve({ state: 'stale' });
      else if (failure.code === 'ENOENT') resolve({ state: 'gone' });
      // EAGAIN: a listener whose backlog is full is alive
      else if (failure.code === 'EAGAIN') resolve({ state: 'live' });
      else reject(failure);
    });
  });
}

/**
 * Takes a dead instance's socket away: renamed, and removed only if it still refuses there, so a
 * live instance that bound the name meanwhile gets it back.
 */
export async function removeStale(address: string): Promise<void> {
  const length = basename(address).length;
  const random = randomBytes(length)
    .toString('base64url')
    .slice(0, length - 1);
  const aside = join(dirname(address), `.${random}`);
  try {
    renameSync(address, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  let holder: Holder | undefined;
  try {
    holder = await probe(aside);
  } finally {
    if (holder?.state !== 'stale') {
      try {
        linkSync(aside, address);
      } catch {
        // a third instance bound the name meanwhile: it holds the lock
      }
    }
    unlinkSync(aside);
  }
}
