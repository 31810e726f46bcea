import { loadEnvFile } from '../../common/startup/env-file';
import { clearSmsBackoff } from './sms-backoff-admin';

// `node dist/src/phone/admin/clear-sms-backoff.cli.js <number>…` (scripts/clear-sms-backoff.js builds first)
async function main(): Promise<number> {
  loadEnvFile(process.env);
  // its own lines only, unless LOG_LEVEL asks for the service's
  const env = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  return clearSmsBackoff(process.argv.slice(2), env, (line) => process.stdout.write(`${line}\n`));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`clear-sms-backoff: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
