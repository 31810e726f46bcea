import { DurationRange, Setting, SettingsGroup } from '../../common/config/setting';

@SettingsGroup(
  'Retention',
  'What the retention sweep (every 10 minutes) deletes or redacts, and when ([ADR 0002](adr/0002-retention.md)).',
)
export class RetentionSettings {
  @Setting(
    'SMS_OUTBOX_RETENTION',
    "how long a delivered, failed or skipped message (with its recipient's number) is kept after it ended (docs/operations.md, Retention)",
  )
  @DurationRange('1d', '3650d')
  readonly outboxMs: number = 7 * 86_400_000;

  @Setting('SMS_RECEIPT_RETENTION', 'how long a delivery receipt waits for the message it names')
  @DurationRange('1h', '30d')
  readonly receiptsMs: number = 86_400_000;

  @Setting('EVENT_PHONE_RETENTION', 'after this the phone numbers in events are redacted; the events stay')
  @DurationRange('1d', '3650d')
  readonly eventPhonesMs: number = 90 * 86_400_000;
}
