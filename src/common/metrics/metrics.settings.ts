import { IntRange, Optional, Setting, SettingsGroup, Text } from '../config/setting';

@SettingsGroup(
  'Metrics and probes',
  'The management listener: Prometheus metrics, `/livez` and `/readyz` ([operations](operations.md)). Tracing takes the standard `OTEL_*` variables instead.',
)
export class MetricsSettings {
  @Setting(
    'METRICS_PORT',
    'management port: Prometheus `GET /metrics`, `/livez`, `/readyz` (docs/operations.md); never the public API; `0` turns it off',
  )
  @IntRange(0, 65535)
  readonly port: number = 9464;

  @Setting('METRICS_HOST', 'address of the management port (no authentication); `0.0.0.0` for a scraper elsewhere', {
    default: '`127.0.0.1` (loopback)',
  })
  @Optional()
  @Text('an IP address or host name')
  readonly host?: string = undefined;
}
