import { Injectable, OnModuleInit } from '@nestjs/common';
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppLogger } from '../common/logging/app-logger';
import { CodeSettings } from './phone-codes.settings';

interface MacKey {
  id: string;
  secret: Buffer;
}

function parseKeys(spec: string): MacKey[] {
  return spec.split(',').map((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : `k${i + 1}`;
    const secret = Buffer.from(colon > 0 ? entry.slice(colon + 1) : entry, 'base64');
    if (secret.length < 32)
      throw new Error(`Invalid configuration:\n  CODE_HMAC_KEY: key "${id}" is shorter than 32 bytes`);
    return { id, secret };
  });
}

/**
 * Codes at rest: HMAC-SHA-256 over (user id, number, code) under a named key. The first key
 * signs new codes; older keys still verify codes issued before a rotation.
 */
@Injectable()
export class CodeMac implements OnModuleInit {
  private keys: MacKey[] = [];

  constructor(
    private readonly config: CodeSettings,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(CodeMac.name);
  }

  onModuleInit(): void {
    this.keys = parseKeys(this.config.hmacKey ?? this.developmentKey());
  }

  get currentKeyId(): string {
    return this.keys[0].id;
  }

  sign(userId: string, phone: string, code: string, keyId = this.currentKeyId): string {
    const key = this.keys.find((k) => k.id === keyId);
    if (!key) return '';
    return createHmac('sha256', key.secret).update(`${userId}\n${phone}\n${code}`).digest('hex');
  }

  /** Constant-time: both sides are 32-byte MACs, whatever the input. */
  matches(mac: string, keyId: string, userId: string, phone: string, code: string): boolean {
    const expected = Buffer.from(mac, 'hex');
    const actual = Buffer.from(this.sign(userId, phone, code, keyId) || '00'.repeat(32), 'hex');
    return expected.length === actual.length && timingSafeEqual(expected, actual) && this.hasKey(keyId);
  }

  /** A 32-byte key for another purpose, derived (HKDF-SHA-256) from the named MAC key; undefined if unknown. */
  deriveKey(keyId: string, purpose: string): Buffer | undefined {
    const key = this.keys.find((k) => k.id === keyId);
    return key ? Buffer.from(hkdfSync('sha256', key.secret, Buffer.alloc(0), purpose, 32)) : undefined;
  }

  private hasKey(keyId: string): boolean {
    return this.keys.some((k) => k.id === keyId);
  }

  /** Development only (production requires CODE_HMAC_KEY): one key, generated once, mode 0600. */
  private developmentKey(): string {
    const file = this.config.hmacKeyFile;
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true });
      try {
        writeFileSync(file, `dev:${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
        this.logger.warn({ file }, 'CODE_HMAC_KEY is not set: generated a development key');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another instance was first
      }
    }
    return readFileSync(file, 'utf8').trim();
  }
}
