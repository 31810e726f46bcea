/** The phone events of contract §8 (plus the outbox's delivery failure). */
export const PhoneEvents = {
  changed: 'user.human.phone.changed',
  codeAdded: 'user.human.phone.code.added',
  codeSent: 'user.human.phone.code.sent',
  codeDeliveryFailed: 'user.human.phone.code.delivery.failed',
  verified: 'user.human.phone.verified',
  verificationFailed: 'user.human.phone.verification.failed',
  removed: 'user.human.phone.removed',
} as const;
