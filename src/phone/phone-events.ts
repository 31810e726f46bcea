/** The phone events of contract §8 (plus the outbox's delivery failure and the pumping guard's block). */
export const PhoneEvents = {
  changed: 'user.human.phone.changed',
  codeAdded: 'user.human.phone.code.added',
  codeSent: 'user.human.phone.code.sent',
  /** the pumping guard refused the send (rule, country, prefix; never the number) */
  codeSendBlocked: 'user.human.phone.code.send.blocked',
  codeDeliveryFailed: 'user.human.phone.code.delivery.failed',
  verified: 'user.human.phone.verified',
  verificationFailed: 'user.human.phone.verification.failed',
  removed: 'user.human.phone.removed',
} as const;
