import fc from 'fast-check';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Method, Root, Type, Writer } from 'protobufjs';
import { PROTO_ROOT, SERVICE_PROTOS } from '../../../src/common/grpc/proto-files';
import { hostileString } from './fuzz';

/** The served methods with their request types, read from proto/ by protobufjs. */
function loadRoot(): Root {
  const root = new Root();
  const reflection = join(dirname(require.resolve('@grpc/reflection')), '..', 'proto');
  root.resolvePath = (_origin, target) => {
    for (const dir of [PROTO_ROOT, reflection]) if (existsSync(join(dir, target))) return join(dir, target);
    return target;
  };
  root.loadSync([...SERVICE_PROTOS, 'grpc/reflection/v1/reflection.proto'], { keepCase: false });
  root.resolveAll();
  return root;
}

const root = loadRoot();

export interface GrpcMethod {
  path: string;
  request: Type;
}

export const GRPC_METHODS: GrpcMethod[] = [
  'zitadel.user.v2.UserService',
  'zitadel.org.v2.OrganizationService',
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
].flatMap((name) => {
  const service = root.lookupService(name);
  // Watch is a stream that stays open by design
  return service.methodsArray
    .filter((m) => m.name !== 'Watch')
    .map((m) => ({ path: `/${name}/${m.name}`, request: (m.resolve() as Method).resolvedRequestType! }));
});

/** Bytes that are protobuf almost: each field with a value of its type or of another, at any depth. */
export function messageBytes(type: Type, depth = 0): fc.Arbitrary<Uint8Array> {
  const fieldNumbers = type.fieldsArray.map((f) => f.id);
  const oneField = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...(fieldNumbers.length ? fieldNumbers : [1])) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 ** 29 - 1 }) },
  );
  const value = (id: number): fc.Arbitrary<(w: Writer) => void> => {
    const field = type.fieldsArray.find((f) => f.id === id);
    const sub =
      field?.resolvedType instanceof Type && depth < 3 ? messageBytes(field.resolvedType, depth + 1) : undefined;
    const utf8 = (s: string) => (w: Writer) => w.uint32((id << 3) | 2).bytes(wtf8(s));
    return fc.oneof(
      {
        weight: 3,
        arbitrary: sub ? sub.map((b) => (w: Writer) => w.uint32((id << 3) | 2).bytes(b)) : hostileString.map(utf8),
      },
      { weight: 2, arbitrary: hostileString.map(utf8) },
      {
        weight: 1,
        arbitrary: fc.uint8Array({ maxLength: 24 }).map((b) => (w: Writer) => w.uint32((id << 3) | 2).bytes(b)),
      },
      {
        weight: 1,
        arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }).map((n) => (w: Writer) => {
          w.uint32(id << 3);
          w.uint64(n < 0n ? (2n ** 64n + n).toString() : n.toString());
        }),
      },
      { weight: 1, arbitrary: fc.integer().map((n) => (w: Writer) => w.uint32((id << 3) | 5).fixed32(n >>> 0)) },
      { weight: 1, arbitrary: fc.nat().map((n) => (w: Writer) => w.uint32((id << 3) | 1).fixed64(n)) },
      // groups and wire types 6 and 7, which no field here has
      { weight: 1, arbitrary: fc.constantFrom(3, 4, 6, 7).map((wt) => (w: Writer) => w.uint32((id << 3) | wt)) },
    );
  };
  return fc.array(oneField.chain(value), { maxLength: 5 }).map((writes) => {
    const writer = Writer.create();
    for (const write of writes) write(writer);
    return writer.finish();
  });
}

/** UTF-8, except that a lone surrogate is written as its own three bytes (invalid UTF-8, as a hostile client may send). */
export function wtf8(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else bytes.push(...Buffer.from(char, 'utf8'));
  }
  return Uint8Array.from(bytes);
}

/** A request body: a well-formed frame of almost-protobuf, or frames and bytes gone wrong. */
export function bodyArb(
  type: Type,
): fc.Arbitrary<{ payload: Uint8Array; frames: 'one' | 'raw' | 'lying' | 'two'; flags: number }> {
  return fc.record({
    payload: fc.oneof(
      { weight: 5, arbitrary: messageBytes(type) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    ),
    frames: fc.oneof(
      { weight: 8, arbitrary: fc.constant('one' as const) },
      { weight: 1, arbitrary: fc.constantFrom('raw' as const, 'lying' as const, 'two' as const) },
    ),
    flags: fc.oneof(
      { weight: 8, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
    ),
  });
}
