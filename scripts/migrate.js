// Brings the database schema up to date and exits, as the server's start does (on PostgreSQL under
// the same advisory lock, without statement deadlines): the Helm chart's pre-upgrade Job runs it, so
// that a failed migration stops the upgrade before any pod of the new version starts (docs/deploy.md).
//   node scripts/migrate.js          (the service's settings: environment, ENV_FILE)
require('./build-if-needed.js');
require('reflect-metadata');
const { validateEnvironment } = require('../dist/src/app.config.js');
const { createRootLogger, stdoutDestination } = require('../dist/src/common/logging/logging.js');
const { loadEnvFile } = require('../dist/src/common/startup/env-file.js');
const { logStartupFailure } = require('../dist/src/common/startup/startup-error.js');
const { openAtStartup } = require('../dist/src/database/database-startup.js');
const { openDatabase } = require('../dist/src/database/database.module.js');
const { dataSourceOptions } = require('../dist/src/database/data-source-options.js');

const out = stdoutDestination();
let logger = createRootLogger('info', out);

async function main() {
  loadEnvFile(process.env);
  const config = validateEnvironment(process.env);
  logger = createRootLogger(config.app.logLevel, out).child({ context: 'Migrations' });
  const settings = config.database;
  const dataSource = await openAtStartup(() => openDatabase(dataSourceOptions(settings)), settings, logger);
  const migrations = dataSource.migrations.length;
  await dataSource.destroy();
  logger.info({ migrations }, 'database schema up to date');
}

main().then(
  () => process.exit(0),
  (error) => {
    logStartupFailure(logger, error);
    process.exit(1);
  },
);
