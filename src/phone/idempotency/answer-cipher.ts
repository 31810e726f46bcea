import { Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CodeMac } from '../code-mac';

const PURPOSE = 'phone-verify idempotent answers v1';

/**
 * Seals stored answers (they may hold a returned verification code) with AES-256-GCM, bound to
 * their row (AAD), under a key derived from the code MAC key whose id travels with the text, as
 * the outbox does (ADR 0026).
 */
@Injectable()
export class AnswerCipher {
  constructor(private readonly mac: CodeMac) {}

  seal(rowId: string, text: string): string {
    const keyId = this.mac.currentKeyId;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(keyId), iv);
    cipher.setAAD(Buffer.from(rowId));
    const sealed = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return ['v1', keyId, iv.toString('base64'), cipher.getAuthTag().toString('base64'), sealed.toString('base64')].join(
      '.',
    );
  }

  open(rowId: string, sealed: string): string {
    const [version, keyId, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || data === undefined) throw new Error('unknown idempotent answer seal format');
    const decipher = createDecipheriv('aes-256-gcm', this.key(keyId), Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(rowId));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
  }

  private key(keyId: string): Buffer {
    const key = this.mac.deriveKey(keyId, PURPOSE);
    if (!key) throw new Error(`idempotent answer key "${keyId}" is not available`);
    return key;
  }
}
