/** One text message to one number. `code` is there for providers that template it themselves. */
export interface SmsMessage {
  to: string;
  text: string;
  code: string;
  userId: string;
  orgId: string;
}

/** Delivery behind one interface; SMS_PROVIDER picks the implementation. */
export abstract class SmsSender {
  abstract readonly name: string;
  abstract send(message: SmsMessage): Promise<void>;
}

/** Development: the text goes to stdout (not to the log, which never carries codes). */
export class ConsoleSmsSender extends SmsSender {
  readonly name = 'console';

  async send(message: SmsMessage): Promise<void> {
    process.stdout.write(`[sms to ${message.to}] ${message.text}\n`);
  }
}

/** Sends nothing: for deployments that only use return_code, and for tests. */
export class NoneSmsSender extends SmsSender {
  readonly name = 'none';

  async send(): Promise<void> {}
}

export function smsText(code: string): string {
  return `Your verification code is ${code}. It expires soon; do not share it.`;
}
