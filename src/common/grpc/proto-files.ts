import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Options } from '@grpc/proto-loader';

/** proto/ at the project root, found from here both in src/ (tests) and in dist/src/ (built). */
function findProtoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'proto', 'zitadel'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('proto/ folder not found above ' + __dirname);
    dir = parent;
  }
  return join(dir, 'proto');
}

export const PROTO_ROOT = findProtoRoot();

/** The services we serve, as files relative to PROTO_ROOT. */
export const SERVICE_PROTOS = [
  'zitadel/user/v2/user_service.proto',
  'zitadel/org/v2/org_service.proto',
  'grpc/health/v1/health.proto',
];

export const GRPC_PACKAGES = ['zitadel.user.v2', 'zitadel.org.v2', 'grpc.health.v1'];

/**
 * Chosen on purpose: camelCase fields (as the JSON mapping and our DTOs), uint64 as decimal
 * strings (exact), enums by name, unset fields absent, and oneofs report which member was set.
 */
export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};
