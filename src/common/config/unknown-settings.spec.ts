import { editDistance, unknownSettings } from './unknown-settings';

const KNOWN = [
  'SMS_PROVIDER',
  'SMS_ROUTES',
  'HOST',
  'PORT',
  'NODE_ENV',
  'TLS_CERT_FILE',
  'TWILIO_ACCOUNT_SID',
  'TWILIO_AUTH_TOKEN',
  'TWILIO_TIMEOUT',
];

describe(unknownSettings.name, () => {
  it('names a slip of a setting with the setting it is closest to', () => {
    expect(unknownSettings({ SMS_PROVDER: 'webhook' }, KNOWN)).toEqual([
      { name: 'SMS_PROVDER', closest: 'SMS_PROVIDER' },
    ]);
    expect(unknownSettings({ NODE_EVN: 'production' }, KNOWN)).toEqual([{ name: 'NODE_EVN', closest: 'NODE_ENV' }]);
  });

  it('names any variable with one of our prefixes, however far from a setting', () => {
    expect(unknownSettings({ TWILIO_SID: 'AC…' }, KNOWN)).toEqual([
      { name: 'TWILIO_SID', closest: 'TWILIO_ACCOUNT_SID' },
    ]);
  });

  it('says nothing of settings, of the environment of every machine, or of names that are not ours', () => {
    const env = {
      SMS_PROVIDER: 'webhook',
      HOME: '/root',
      PATH: '/bin',
      HOSTNAME: 'vm',
      SSL_CERT_FILE: '/etc/ssl/cert.pem',
      NODE_OPTIONS: '',
      TEST_PG_URL: 'x',
    };
    expect(
      unknownSettings({ ...env, OTEL_SERVICE_NAME: 'pv', npm_config_cache: '/tmp', GRPC_TRACE: 'all' }, KNOWN),
    ).toEqual([]);
  });

  it('returns names only, never values', () => {
    expect(JSON.stringify(unknownSettings({ SMS_PROVDER: 'hunter2' }, KNOWN))).not.toContain('hunter2');
  });
});

describe(editDistance.name, () => {
  it.each([
    ['SMS_PROVIDER', 'SMS_PROVIDER', 0],
    ['SMS_PROVDER', 'SMS_PROVIDER', 1],
    ['NODE_EVN', 'NODE_ENV', 1],
    ['HOME', 'HOST', 2],
    ['', 'PORT', 4],
  ])('%s → %s takes %i edits', (a, b, edits) => {
    expect(editDistance(a, b)).toBe(edits);
  });
});
