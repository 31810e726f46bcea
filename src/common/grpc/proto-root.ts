import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Root, Type } from 'protobufjs';
import { PROTO_ROOT, SERVICE_PROTOS } from './proto-files';

let root: Root | undefined;

/** The served protos as protobufjs types: proto-loader, which grpc-js decodes with, keeps its own to itself. */
function servedRoot(): Root {
  if (root) return root;
  const loaded = new Root();
  loaded.resolvePath = (_origin, target) => {
    const inRoot = join(PROTO_ROOT, target);
    return existsSync(inRoot) ? inRoot : target;
  };
  loaded.loadSync(SERVICE_PROTOS, { keepCase: false });
  loaded.resolveAll();
  root = loaded;
  return loaded;
}

/** The request type of a served method, if there is such a method. */
export function requestTypeOf(service: string, method: string): Type | undefined {
  return servedRoot().lookupService(service).methods[method]?.resolvedRequestType ?? undefined;
}
