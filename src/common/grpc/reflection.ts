import type { PackageDefinition } from '@grpc/proto-loader';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROTO_ROOT } from './proto-files';

/** proto/ compiled by buf (`npm run proto:descriptors`); a test fails when it is older than proto/. */
export const DESCRIPTOR_SET = join(PROTO_ROOT, 'descriptors.binpb');

interface FileDescriptor {
  name?: string;
}
// protobufjs's descriptor extension has no typings
// eslint-disable-next-line @typescript-eslint/no-require-imports
const descriptor = require('protobufjs/ext/descriptor') as {
  FileDescriptorSet: { decode(bytes: Uint8Array): { file: FileDescriptor[] } };
  FileDescriptorProto: { encode(file: FileDescriptor): { finish(): Uint8Array } };
};

/**
 * Reflection hands out proto/'s files as protoc writes them: from proto-loader's merged descriptors
 * clients (buf curl, grpcurl, Postman) could list the services but not call them.
 */
export function reflectionDefinition(): PackageDefinition {
  const set = descriptor.FileDescriptorSet.decode(readFileSync(DESCRIPTOR_SET));
  const fileDescriptorProtos = set.file.map((file) =>
    Buffer.from(descriptor.FileDescriptorProto.encode(file).finish()),
  );
  return {
    files: { format: 'Protocol Buffer 3 FileDescriptorProto', type: {}, fileDescriptorProtos },
  } as unknown as PackageDefinition;
}
