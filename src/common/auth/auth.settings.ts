import { Optional, Pattern, Setting, SettingsGroup, Text } from '../config/setting';
import type { SettingsContext } from '../config/settings-reader';
import { ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_TYPE } from './access-token-verifier';

const ALGORITHM = `(${ACCESS_TOKEN_ALGORITHMS.join('|')})`;

@SettingsGroup(
  'JWT access tokens',
  "Personal access tokens always work; these settings accept an IdP's JWT access tokens as well ([API](api.md)).",
)
export class AuthSettings {
  @Setting('OIDC_ISSUER', 'issuer of accepted JWT access tokens')
  @Optional()
  @Text()
  readonly issuer?: string = undefined;

  @Setting('OIDC_JWKS_URL', "the issuer's JWKS URL (`https://` when `NODE_ENV=production`)")
  @Optional()
  @Pattern(/^https?:\/\/.+/, 'an http(s) URL')
  readonly jwksUrl?: string = undefined;

  @Setting('OIDC_JWKS_FILE', 'a JWKS file instead of the URL')
  @Optional()
  @Text('a file path')
  readonly jwksFile?: string = undefined;

  @Setting(
    'OIDC_AUDIENCE',
    'required audience of JWT access tokens; required when `OIDC_JWKS_URL` or `OIDC_JWKS_FILE` is set',
  )
  @Optional()
  @Text()
  readonly audience?: string = undefined;

  @Setting('OIDC_ALGORITHMS', 'JWS algorithms accepted on JWT access tokens, a subset of the default (asymmetric only)')
  @Pattern(
    new RegExp(`^\\s*${ALGORITHM}(\\s*,\\s*${ALGORITHM})*\\s*$`),
    `a comma-separated list of ${ACCESS_TOKEN_ALGORITHMS.join(', ')}`,
  )
  readonly algorithms: string = ACCESS_TOKEN_ALGORITHMS.join(',');

  @Setting(
    'OIDC_TOKEN_TYPES',
    '`typ` header values accepted on JWT access tokens (a token without `typ` passes); `at+jwt,JWT` for IdPs that label access tokens `JWT`',
  )
  @Pattern(
    /^\s*[A-Za-z0-9.+/-]+(\s*,\s*[A-Za-z0-9.+/-]+)*\s*$/,
    'a comma-separated list of media types such as at+jwt,JWT',
  )
  readonly tokenTypes: string = ACCESS_TOKEN_TYPE;

  /** JWT access tokens are accepted only for us (an audience), and their keys come over TLS in production. */
  problems({ production }: SettingsContext): string[] {
    const problems: string[] = [];
    if ((this.jwksUrl || this.jwksFile) && !this.audience) {
      problems.push(
        'OIDC_AUDIENCE: required when OIDC_JWKS_URL or OIDC_JWKS_FILE is set (the audience your IdP puts in access tokens for this API)',
      );
    }
    if (production && this.jwksUrl && !this.jwksUrl.startsWith('https://')) {
      problems.push('OIDC_JWKS_URL: must be https:// when NODE_ENV=production');
    }
    return problems;
  }
}
