import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Root, Type } from 'protobufjs';
import { PROTO_ROOT, SERVICE_PROTOS } from '../grpc/proto-files';

const MESSAGES = new WeakMap<object, string>();
let root: Root | undefined;

/** The served protos with their own field names (keepCase), which the JSON reading accepts beside the camelCase ones. */
function loadRoot(): Root {
  const loaded = new Root();
  loaded.resolvePath = (_origin, target) => {
    const inRoot = join(PROTO_ROOT, target);
    return existsSync(inRoot) ? inRoot : target;
  };
  loaded.loadSync(SERVICE_PROTOS, { keepCase: true });
  loaded.resolveAll();
  return loaded;
}

/** Names the protobuf message a request DTO stands for: its input is read by that message's JSON mapping. */
export function ProtoMessage(fullName: string): ClassDecorator {
  return (target) => {
    MESSAGES.set(target, fullName);
  };
}

/** The message type of a request DTO; a DTO without one is a programming error. */
export function protoMessageOf(dto: object): Type {
  const name = MESSAGES.get(dto);
  if (!name) throw new Error(`${(dto as { name?: string }).name ?? 'a DTO'} names no protobuf message (@ProtoMessage)`);
  root ??= loadRoot();
  return root.lookupType(name);
}
