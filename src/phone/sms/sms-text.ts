/** What the message text is made from. */
export interface SmsTextInput {
  code: string;
  displayName?: string | null;
  language?: string | null;
}

export function smsText(input: SmsTextInput): string {
  return `Your verification code is ${input.code}. It expires soon; do not share it.`;
}
