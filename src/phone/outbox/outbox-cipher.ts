import { Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SmsOutboxSettings } from './sms-outbox.settings';
import { CodeMac } from '../code-mac';

const PURPOSE = 'phone-verify sms outbox v1';
const CONFIGURED = 'outbox';

/**
 * Seals codes waiting in the outbox with AES-256-GCM, bound to their outbox row (AAD). The key is
 * SMS_OUTBOX_KEY, or derived from the code MAC key; its id travels with the ciphertext so a key
 * rotation does not strand messages in flight.
 */
@Injectable()
export class OutboxCipher {
  constructor(
    private readonly config: SmsOutboxSettings,
    private readonly mac: CodeMac,
  ) {}

  seal(rowId: string, code: string): string {
    const keyId = this.config.key ? CONFIGURED : this.mac.currentKeyId;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(keyId), iv);
    cipher.setAAD(Buffer.from(rowId));
    const sealed = Buffer.concat([cipher.update(code, 'utf8'), cipher.final()]);
    return ['v1', keyId, iv.toString('base64'), cipher.getAuthTag().toString('base64'), sealed.toString('base64')].join(
      '.',
    );
  }

  open(rowId: string, sealed: string): string {
    const [version, keyId, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !data) throw new Error('unknown outbox seal format');
    const decipher = createDecipheriv('aes-256-gcm', this.key(keyId), Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(rowId));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
  }

  private key(keyId: string): Buffer {
    const key =
      keyId === CONFIGURED && this.config.key
        ? Buffer.from(this.config.key, 'base64')
        : this.mac.deriveKey(keyId, PURPOSE);
    if (!key || key.length !== 32) throw new Error(`outbox key "${keyId}" is not available`);
    return key;
  }
}
