import { Agent } from 'node:http';
import type { Received } from '../../test/support/fake-http';
import { NO_BACKEND_HEADER } from '../../test/support/round-robin-proxy';
import { attemptsRemaining, errorId, httpJson } from './http';

export type Kind = 'set' | 'wrong' | 'right';

/** One HTTP request of a call. */
export interface Try {
  requestId: string;
  /** the drill's phase when the request went out, and when its answer (or its failure) came */
  phase: string;
  endedIn?: string;
  status?: number;
  errorId?: string;
  /** answered by the proxy (no backend took the connection), not by an instance */
  byProxy?: boolean;
  /** why no answer came */
  error?: string;
  /** the body of a 5xx, as evidence */
  body?: unknown;
}

/**
 * One use-case call: a 503 means nothing was done (docs/operations.md, "When a dependency fails"), so it is
 * sent again, up to MAX_TRIES times. `answered`: a status other than 503 came back; `unavailable`:
 * only 503s, nothing done; `unknown`: no answer (the connection broke), done or not.
 */
export interface Call {
  kind: Kind;
  tries: Try[];
  outcome: 'answered' | 'unavailable' | 'unknown';
  status?: number;
  errorId?: string;
  attemptsRemaining?: number;
}

/** One code's life for one user: SetPhone to a number of its own, then wrong and right codes. */
export interface Round {
  index: number;
  number: string;
  mode: 'return' | 'send';
  /** patient: one wrong code then the right one; guesser: maxAttempts + 2 wrong codes at once, then the right one */
  style: 'patient' | 'guesser';
  calls: Call[];
  /** a send answered 200 whose SMS did not arrive in time */
  smsMissing?: boolean;
}

export interface DrillUser {
  index: number;
  id: string;
  rounds: Round[];
}

const MAX_TRIES = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A distinct valid Swiss mobile number per user and round. */
export function numberFor(user: number, round: number): string {
  return `+4179${String(user).padStart(3, '0')}${String(round).padStart(4, '0')}`;
}

/** A code of the same length that is certainly not `code`. */
function wrongCodeFor(code: string): string {
  const last = code.at(-1)!;
  return code.slice(0, -1) + (last === '0' ? '1' : '0');
}

/** The fake SMS provider's messages, by user and number, as they arrive. */
export class SmsInbox {
  readonly messages: Received[] = [];
  private readonly byRecipient = new Map<string, Received[]>();

  take(message: Received): void {
    this.messages.push(message);
    const key = `${message.json.userId}|${message.json.to}`;
    this.byRecipient.set(key, [...(this.byRecipient.get(key) ?? []), message]);
  }

  of(userId: string, to: string): Received[] {
    return this.byRecipient.get(`${userId}|${to}`) ?? [];
  }

  async waitFor(userId: string, to: string, timeoutMs: number, aborted: () => boolean): Promise<Received | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !aborted()) {
      const found = this.of(userId, to)[0];
      if (found) return found;
      await sleep(50);
    }
    return undefined;
  }
}

export interface LoadSettings {
  baseUrl: string;
  token: string;
  userCount: number;
  concurrency: number;
  maxRoundsPerUser: number;
  maxAttempts: number;
  runId: string;
  inbox: SmsInbox;
  /** the drill's phase now, written on every request */
  phase: () => string;
}

/**
 * Users driven through the proxy by `concurrency` workers. Each worker takes the user that waited
 * longest, plays one round for it and puts it back; a user is never in two rounds at once. Every
 * loop is bounded: rounds per user, tries per call, the wait for an SMS.
 */
export class Load {
  readonly users: DrillUser[] = [];
  /** calls ended (any outcome), in all and per phase */
  completed = 0;
  readonly completedByPhase = new Map<string, number>();
  /** half the workers keep their connections open between requests, half open one per request */
  private readonly agents: [Agent, Agent];
  private requestSeq = 0;
  private stopping = false;
  private aborted = false;
  private workers: Promise<void>[] = [];

  constructor(private readonly settings: LoadSettings) {
    // a guesser's wrong codes go out at once, each on its own connection
    const maxSockets = settings.concurrency * (settings.maxAttempts + 2);
    this.agents = [new Agent({ keepAlive: true, maxSockets }), new Agent({ keepAlive: false, maxSockets })];
  }

  /** Creates the users (a few at a time); each must be answered 200. */
  async createUsers(): Promise<void> {
    const { userCount, runId } = this.settings;
    let next = 0;
    const creator = async () => {
      while (next < userCount) {
        const index = next++;
        const call = await this.request(this.agents[1], `${this.settings.baseUrl}/v2/users/human`, {
          profile: { givenName: 'Drill', familyName: `User ${index}` },
          email: { email: `drill.${runId}.${index}@example.com`, isVerified: true },
        });
        if (call.call.status !== 200) {
          throw new Error(`creating drill user ${index}: ${JSON.stringify(call.call)} ${JSON.stringify(call.body)}`);
        }
        this.users[index] = { index, id: String(call.body.userId), rounds: [] };
      }
    };
    await Promise.all(Array.from({ length: 4 }, creator));
  }

  start(): void {
    const queue = [...this.users];
    const worker = async (agent: Agent) => {
      while (!this.stopping) {
        const user = queue.shift();
        if (!user) return;
        await this.round(user, agent);
        if (user.rounds.length < this.settings.maxRoundsPerUser) queue.push(user);
      }
    };
    // the proxy balances connections: with keep-alive only, a few long-lived ones would carry the load
    this.workers = Array.from({ length: this.settings.concurrency }, (_, i) => worker(this.agents[i % 2]));
  }

  /** Whether every worker has run out of rounds. */
  get exhausted(): boolean {
    return this.users.every((user) => user.rounds.length >= this.settings.maxRoundsPerUser);
  }

  /** Lets each worker finish its round, then returns. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }

  /** Ends every request and wait at once (the drill failed or timed out), then lets the workers return. */
  async abort(): Promise<void> {
    this.aborted = true;
    for (const agent of this.agents) agent.destroy();
    await this.stop();
  }

  /** One more round for `user`, sent to `baseUrl` (an instance itself) instead of the proxy. */
  async roundVia(user: DrillUser, baseUrl: string): Promise<void> {
    await this.round(user, this.agents[1], baseUrl);
  }

  /** Waits until `count` more calls have ended, or fails after `timeoutMs`. */
  async progress(count: number, what: string, timeoutMs = 180_000): Promise<void> {
    const target = this.completed + count;
    const deadline = Date.now() + timeoutMs;
    while (this.completed < target) {
      if (this.exhausted) throw new Error(`the load ran out of rounds during ${what}: more --users`);
      if (Date.now() > deadline) throw new Error(`the load made no progress (${count} calls) during ${what}`);
      await sleep(50);
    }
  }

  private async round(user: DrillUser, agent: Agent, baseUrl = this.settings.baseUrl): Promise<void> {
    const r = user.rounds.length;
    const round: Round = {
      index: r,
      number: numberFor(user.index, r),
      mode: (user.index + r) % 2 === 0 ? 'return' : 'send',
      style: (user.index + r) % 3 === 0 ? 'guesser' : 'patient',
      calls: [],
    };
    user.rounds.push(round);
    const verification = round.mode === 'return' ? { returnCode: {} } : { sendCode: {} };
    const call = (kind: Kind, path: string, body: object) => this.call(round, kind, agent, baseUrl + path, body);
    const set = await call('set', `/v2/users/${user.id}/phone`, { phone: round.number, ...verification });
    if (set.status !== 200) return;
    let code: string | undefined;
    if (round.mode === 'return') code = set.body?.verificationCode;
    else {
      // the outbox of any instance sends it; one killed while sending leaves it to another after SMS_SEND_LEASE
      const message = await this.settings.inbox.waitFor(user.id, round.number, 90_000, () => this.aborted);
      round.smsMissing = message === undefined;
      code = message?.json.code;
    }
    if (!code) return;
    const verify = `/v2/users/${user.id}/phone/verify`;
    const wrong = { verificationCode: wrongCodeFor(code) };
    const guesses = round.style === 'patient' ? 1 : this.settings.maxAttempts + 2;
    await Promise.all(Array.from({ length: guesses }, () => call('wrong', verify, wrong)));
    await call('right', verify, { verificationCode: code });
  }

  private async call(
    round: Round,
    kind: Kind,
    agent: Agent,
    url: string,
    body: object,
  ): Promise<{ status?: number; body?: any }> {
    const { call, body: answer } = await this.request(agent, url, body, kind);
    round.calls.push(call);
    return { status: call.outcome === 'answered' ? call.status : undefined, body: answer };
  }

  private async request(
    agent: Agent,
    url: string,
    body: object,
    kind: Kind = 'set',
  ): Promise<{ call: Call; body?: any }> {
    const call: Call = { kind, tries: [], outcome: 'unavailable' };
    try {
      for (let attempt = 1; attempt <= MAX_TRIES && !this.aborted; attempt++) {
        const phase = this.settings.phase();
        const attemptRecord: Try = { requestId: `drill-${this.settings.runId}-${++this.requestSeq}`, phase };
        call.tries.push(attemptRecord);
        let answer;
        try {
          answer = await httpJson(url, {
            body,
            agent,
            headers: { Authorization: `Bearer ${this.settings.token}`, 'x-request-id': attemptRecord.requestId },
            timeoutMs: 60_000,
          });
        } catch (error) {
          attemptRecord.endedIn = this.settings.phase();
          const { code, message, reusedSocket } = error as NodeJS.ErrnoException & { reusedSocket?: boolean };
          attemptRecord.error = `${code ?? message} on a ${reusedSocket ? 'reused' : 'new'} connection`;
          call.outcome = 'unknown';
          return { call };
        }
        attemptRecord.endedIn = this.settings.phase();
        attemptRecord.status = answer.status;
        attemptRecord.errorId = errorId(answer.body);
        if (answer.headers[NO_BACKEND_HEADER] !== undefined) attemptRecord.byProxy = true;
        if (answer.status >= 500) attemptRecord.body = answer.body;
        if (answer.status !== 503) {
          Object.assign(call, {
            outcome: 'answered',
            status: answer.status,
            errorId: attemptRecord.errorId,
            attemptsRemaining: attemptsRemaining(answer.body),
          });
          return { call, body: answer.body };
        }
        await sleep(200 * attempt);
      }
      return { call };
    } finally {
      this.completed++;
      const phase = call.tries.at(-1)?.endedIn ?? this.settings.phase();
      this.completedByPhase.set(phase, (this.completedByPhase.get(phase) ?? 0) + 1);
    }
  }
}
