import { TestEnvironment } from 'jest-environment-node';
import childProcess from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';

/**
 * The unit project's environment: a unit spec that opens a connection, listens on a port or a
 * socket, or starts a process fails at that call, so `npm run test:unit` needs no server, no
 * network and nothing installed. Jest hands specs the process's own core modules, so the guard
 * patches them while a unit file runs and puts them back after it (an in-band run mixes projects).
 */
const GUARDED: Array<[object, string, string]> = [
  [net.Socket.prototype, 'connect', 'a network connection'],
  [net.Server.prototype, 'listen', 'a listening server'],
  [dgram.Socket.prototype, 'bind', 'a UDP socket'],
  [dgram.Socket.prototype, 'send', 'a UDP socket'],
  [childProcess.ChildProcess.prototype, 'spawn', 'a child process'],
  [childProcess, 'spawnSync', 'a child process'],
  [childProcess, 'execSync', 'a child process'],
  [childProcess, 'execFileSync', 'a child process'],
];

export const UNIT_REFUSAL = 'unit specs run without network, servers or processes';

export default class UnitEnvironment extends TestEnvironment {
  private readonly saved: Array<[object, string, unknown]> = [];

  override async setup(): Promise<void> {
    await super.setup();
    // the run's servers are the integration project's; a unit spec must not find them
    delete this.global.process.env.TEST_PG_URL;
    delete this.global.process.env.TEST_REDIS_URL;
    for (const [owner, name, what] of GUARDED) {
      const target = owner as Record<string, unknown>;
      this.saved.push([owner, name, target[name]]);
      target[name] = () => {
        throw new Error(`${UNIT_REFUSAL} (this one asked for ${what}): move it to test/integration/`);
      };
    }
  }

  override async teardown(): Promise<void> {
    for (const [owner, name, original] of this.saved.splice(0).reverse()) {
      (owner as Record<string, unknown>)[name] = original;
    }
    await super.teardown();
  }
}
