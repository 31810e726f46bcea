import { DurationRange, IntRange, Optional, Pattern, Setting, SettingsGroup, Text } from '../config/setting';

@SettingsGroup(
  'HTTP and the transports',
  'One port serves REST, gRPC, gRPC-web and Connect, with TLS when both files are set ([ADR 0003](adr/0003-one-port.md)).',
)
export class HttpSettings {
  @Setting('PORT', 'the port of every protocol: REST, gRPC, gRPC-web, Connect, Swagger UI')
  @IntRange(0, 65535)
  readonly port: number = 8080;

  @Setting('HOST', 'address to listen on (HTTP and gRPC)')
  @Text('an IP address or host name')
  readonly host: string = '0.0.0.0';

  @Setting('GRPC_PORT', 'a second port serving gRPC alone, for existing deployments; `0` turns it off')
  @IntRange(0, 65535)
  readonly grpcPort: number = 50051;

  @Setting(
    'TLS_CERT_FILE',
    'PEM certificate chain; with `TLS_KEY_FILE`, `PORT` speaks TLS only (ALPN `h2`, `http/1.1`)',
  )
  @Optional()
  @Text('a file path')
  readonly tlsCertFile?: string = undefined;

  @Setting('TLS_KEY_FILE', 'PEM private key of `TLS_CERT_FILE`')
  @Optional()
  @Text('a file path')
  readonly tlsKeyFile?: string = undefined;

  @Setting(
    'HTTP_KEEPALIVE_TIMEOUT',
    'how long an idle keep-alive connection or HTTP/2 session stays open (then closed, HTTP/2 with GOAWAY); above the 60 s of AWS ALB and nginx, so they never race the close',
  )
  @DurationRange('1s', '10m')
  readonly keepAliveTimeoutMs: number = 65_000;

  @Setting('REQUEST_BODY_LIMIT', 'largest request body in bytes')
  @IntRange(1024, 10 * 1024 * 1024)
  readonly bodyLimit: number = 64 * 1024;

  @Setting(
    'CORS_ALLOWED_ORIGINS',
    'origins browsers may call every route from: `*` or a comma-separated list; others get no CORS headers',
    { default: "`GRPC_WEB_CORS_ORIGINS`'s" },
  )
  @Optional()
  @Pattern(/^(\*|https?:\/\/[^,\s]+(,\s*https?:\/\/[^,\s]+)*)$/, '"*" or a comma-separated list of http(s) origins')
  readonly corsAllowedOrigins?: string = undefined;

  @Setting('GRPC_WEB_CORS_ORIGINS', 'earlier name of `CORS_ALLOWED_ORIGINS`, read when that is unset')
  @Pattern(/^(\*|https?:\/\/[^,\s]+(,\s*https?:\/\/[^,\s]+)*)$/, '"*" or a comma-separated list of http(s) origins')
  readonly grpcWebCorsOrigins: string = '*';

  @Setting('TRUSTED_PROXIES', 'proxies whose `X-Forwarded-For` is believed: IPs, CIDRs, `loopback`…')
  @Optional()
  @Pattern(
    /^[0-9a-fA-F.:/,\s]+$|^(loopback|linklocal|uniquelocal)(\s*,\s*[0-9a-zA-Z.:/]+)*$/,
    'comma-separated IP addresses or CIDRs (or loopback, linklocal, uniquelocal)',
  )
  readonly trustedProxies?: string = undefined;

  /** The origins browsers may call from. */
  get corsOrigins(): string {
    return this.corsAllowedOrigins ?? this.grpcWebCorsOrigins;
  }

  problems(): string[] {
    if (!this.tlsCertFile === !this.tlsKeyFile) return [];
    return [`${this.tlsCertFile ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'}: TLS needs both TLS_CERT_FILE and TLS_KEY_FILE`];
  }
}
