import { Injectable } from '@nestjs/common';
import { EventPosition, EventsRepository } from '../../common/events/events.repository';
import { Database } from '../../database/sql';
import { PhoneEvents } from '../phone-events';
import { BATCH } from './retention-deletes';

/** The fields of an event payload that hold a phone number (or a prefix of one), by event type. */
export const PHONE_FIELDS: Record<string, string[]> = {
  [PhoneEvents.changed]: ['phone'],
  [PhoneEvents.codeSendBlocked]: ['prefix'],
};

/** In the payload of a redacted event (JSON.stringify's spelling): it is passed over. */
const REDACTED_MARKER = '"redacted":true';

/** Takes the phone numbers out of old events, a batch per transaction (ADR 0002). */
@Injectable()
export class EventPhoneRedactor {
  /** how far each type's events were redacted (this process: the first sweep walks them all once) */
  private readonly redacted = new Map<string, EventPosition>();

  constructor(
    private readonly db: Database,
    private readonly events: EventsRepository,
  ) {}

  /** Sets the phone fields of events created before `before` to null (marked redacted); returns how many. */
  async redactBefore(before: Date): Promise<number> {
    let total = 0;
    for (const [type, fields] of Object.entries(PHONE_FIELDS)) {
      for (;;) {
        const after = this.redacted.get(type) ?? { createdAt: -1, id: '' };
        const rows = await this.events.ofTypeBefore(type, before, after, BATCH, REDACTED_MARKER);
        if (rows.length === 0) break;
        const rewrites = rows.flatMap((row) => {
          const payload = parsePayload(row.payload);
          if (!payload || payload.redacted === true) return [];
          for (const field of fields) if (field in payload) payload[field] = null;
          return [{ id: row.id, payload: { ...payload, redacted: true } }];
        });
        if (rewrites.length > 0) {
          await this.db.transaction((tx) =>
            Promise.all(rewrites.map((r) => this.events.rewritePayload(tx, r.id, r.payload))),
          );
        }
        total += rewrites.length;
        const last = rows[rows.length - 1];
        this.redacted.set(type, { createdAt: last.createdAt, id: last.id });
        if (rows.length < BATCH) break;
      }
    }
    return total;
  }
}

function parsePayload(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
