import { Injectable } from '@nestjs/common';
import { IdGenerator } from '../common/ids/id-generator';
import { generateCode } from './code-generator';
import { CodeMac } from './code-mac';
import { PhoneCodeEntity } from './phone-code.entity';
import { CodeSettings } from './phone-codes.settings';
import { ParsedPhone } from './phone-number';

/** A new code's row before it is stored, with how it is sent. */
export interface NewCodeRow extends Pick<PhoneCodeEntity, 'smsQueuedAt' | 'sentFrom' | 'sentCountry'> {
  userId: string;
  phone: ParsedPhone;
  code: string;
  now: Date;
}

/** Draws codes and builds their rows (PHONE_CODE_LENGTH, PHONE_CODE_ALPHABET, PHONE_CODE_TTL). */
@Injectable()
export class PhoneCodeFactory {
  constructor(
    private readonly config: CodeSettings,
    private readonly mac: CodeMac,
    private readonly ids: IdGenerator,
  ) {}

  draw(): string {
    return generateCode(this.config.length, this.config.alphabet);
  }

  /** A new code's row: its MAC under the current key, its expiry, no attempt used. */
  row({ userId, phone, code, now, ...sending }: NewCodeRow): PhoneCodeEntity {
    const keyId = this.mac.currentKeyId;
    return {
      id: this.ids.next(),
      userId,
      phone: phone.e164,
      mac: this.mac.sign(userId, phone.e164, code, keyId),
      keyId,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.config.ttlMs),
      attempts: 0,
      consumedAt: null,
      ...sending,
    };
  }
}
