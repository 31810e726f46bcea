/** The phone events of contract §8 (plus the outbox's delivery failure and the test numbers' codes). */
export const PhoneEvents = {
  changed: 'user.human.phone.changed',
  codeAdded: 'user.human.phone.code.added',
  codeSent: 'user.human.phone.code.sent',
  /** a code for a number of SMS_TEST_NUMBERS: its fixed code, never sent */
  codeTestNumber: 'user.human.phone.code.test_number',
  codeDeliveryFailed: 'user.human.phone.code.delivery.failed',
  verified: 'user.human.phone.verified',
  verificationFailed: 'user.human.phone.verification.failed',
  removed: 'user.human.phone.removed',
} as const;
