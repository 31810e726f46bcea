// Clears the SMS back-off of one or more numbers, for every account that sent to them (docs/operations.md, Limits):
//   node scripts/clear-sms-backoff.js +41791234567 [+41797654321 …]
// with the service's settings (environment, ENV_FILE): the same database, or Redis with REDIS_URL.
require('./build-if-needed.js');
require('../dist/src/phone/admin/clear-sms-backoff.cli.js');
