/** The phone events of contract §8, plus the outbox's, test numbers' and the pumping guard's. */
export const PhoneEvents = {
  changed: 'user.human.phone.changed',
  codeAdded: 'user.human.phone.code.added',
  codeSent: 'user.human.phone.code.sent',
  /** a code for a number of SMS_TEST_NUMBERS: its fixed code, never sent */
  codeTestNumber: 'user.human.phone.code.test_number',
  /** the pumping guard refused the send (rule, country, prefix; never the number) */
  codeSendBlocked: 'user.human.phone.code.send.blocked',
  codeDeliveryFailed: 'user.human.phone.code.delivery.failed',
  codeDelivered: 'user.human.phone.code.delivered',
  /** the code goes on to its workflow's next channel (CHANNEL_ROUTES): same code, next step */
  codeFallback: 'user.human.phone.code.fallback',
  verified: 'user.human.phone.verified',
  verificationFailed: 'user.human.phone.verification.failed',
  removed: 'user.human.phone.removed',
} as const;
