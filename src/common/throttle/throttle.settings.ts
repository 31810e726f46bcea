import { DurationRange, IntRange, Setting, SettingsGroup } from '../config/setting';

@SettingsGroup(
  'Throttling',
  'Requests per client address, on every transport; counted in Redis when `REDIS_URL` is set.',
)
export class ThrottleSettings {
  @Setting(
    'THROTTLE_LIMIT',
    'requests per client address (IPv6: per /64) per window on every transport; `0` turns it off',
  )
  @IntRange(0, 1_000_000)
  readonly limit: number = 1200;

  @Setting('THROTTLE_WINDOW', 'throttling window')
  @DurationRange('1s', '1h')
  readonly windowMs: number = 60_000;

  @Setting(
    'THROTTLE_PUBLIC_LIMIT',
    'requests per client address per window to the public routes (probes, SMS receipts), counted apart from `THROTTLE_LIMIT`, in memory per instance; `0` turns it off',
  )
  @IntRange(0, 10_000_000)
  readonly publicLimit: number = 12_000;
}
