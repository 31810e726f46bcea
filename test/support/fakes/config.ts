import { AppConfig, validateEnvironment } from '../../../src/app.config';
import { CodeMac } from '../../../src/phone/code-mac';

/** Two MAC keys: k1 signs new codes, k0 is the one before a rotation. */
export const MAC_KEYS = `k1:${Buffer.alloc(32, 1).toString('base64')},k0:${Buffer.alloc(32, 2).toString('base64')}`;

/** The configuration as start-up validates it: defaults, the test MAC keys, and what a spec sets. */
export function unitConfig(env: Record<string, string> = {}): AppConfig {
  return validateEnvironment({ CODE_HMAC_KEY: MAC_KEYS, ...env });
}

type Logger = ConstructorParameters<typeof CodeMac>[1];
const silent = { setContext: () => undefined, warn: () => undefined } as unknown as Logger;

/** A CodeMac with its keys loaded, as the module's start leaves it. */
export function codeMac(config: AppConfig = unitConfig()): CodeMac {
  const mac = new CodeMac(config.codes, silent);
  mac.onModuleInit();
  return mac;
}
