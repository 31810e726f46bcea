import { loadEnvFile } from '../../common/startup/env-file';
import { clearSmsBackoff } from './sms-backoff-admin';

// `node dist/src/phone/admin/clear-sms-backoff.cli.js <number>…` (scripts/clear-sms-backoff.js builds first)
async function main(): Promise<number> {
  loadEnvFile(process.env);
  return clearSmsBackoff(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`clear-sms-backoff: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
