import { SmsAccepted, SmsMessage, SmsSender } from '../sms/sms-sender';

/** A provider's judgement of a submitted code, in the service's terms (ADR 0030). */
export type VerifierAnswer = 'approved' | 'wrong' | 'expired' | 'exhausted';

/** The provider could not judge the code (timeout, network, 5xx, our credentials): nothing was decided. */
export class VerifierUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifierUnavailable';
  }
}

/**
 * A verification API that draws, sends and checks its own code (PHONE_VERIFIER): Twilio Verify or
 * Plivo Verify. `start` throws SmsDeliveryError (the outbox retries it); `check` throws
 * VerifierUnavailable when the provider gave no judgement.
 */
export abstract class DelegatedVerifier {
  abstract readonly name: string;
  /** Starts a verification of `to`; resolves with the provider's id for it. */
  abstract start(to: string, language?: string): Promise<string>;
  /** The provider's answer to `code` for the verification `verificationId` of `to`. */
  abstract check(to: string, verificationId: string, code: string): Promise<VerifierAnswer>;
}

/**
 * A check's outcome: the provider's answer to `request`, judged. A request that failed, or an
 * answer that gave no judgement (`describe` says what it was), is VerifierUnavailable.
 */
export async function judgeCheck<A>(
  request: () => Promise<A>,
  judge: (answer: A) => VerifierAnswer | undefined,
  describe: (answer: A) => string,
): Promise<VerifierAnswer> {
  let answer: A;
  try {
    answer = await request();
  } catch (error) {
    throw new VerifierUnavailable((error as Error).message);
  }
  const judged = judge(answer);
  if (judged === undefined) throw new VerifierUnavailable(describe(answer));
  return judged;
}

/** Injection token of the configured DelegatedVerifier (null with PHONE_VERIFIER=local). */
export const DELEGATED_VERIFIER = Symbol('delegated-verifier');

/**
 * The outbox's "send" with a delegated verifier: the provider is asked to start its verification
 * (it sends its own code), so delivery keeps the outbox's retries. The locally drawn code in the
 * message is never sent: it is a placeholder that no check compares.
 */
export class VerificationStartSender extends SmsSender {
  readonly name: string;

  constructor(private readonly verifier: DelegatedVerifier) {
    super();
    this.name = verifier.name;
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const verificationId = await this.verifier.start(message.to, message.language);
    return { provider: this.name, providerMessageId: verificationId, verificationId };
  }
}
