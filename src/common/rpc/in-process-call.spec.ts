import { Metadata } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/grpc-js';
import { toGrpcError } from '../errors/error.filter';
import { Errors } from '../errors/errors';
import { GrpcStatus } from '../errors/grpc-status';
import { InProcessCall, invokeUnary } from './in-process-call';
import type { UnaryRpc } from './rpc-handlers';

type Handle = (call: InProcessCall, callback: (error: unknown, value?: object) => void) => unknown;

function rpc(handle: Handle): UnaryRpc {
  const definition = {
    path: '/test.v1.Service/Method',
    requestStream: false,
    responseStream: false,
    requestDeserialize: (bytes: Buffer) => ({ text: bytes.toString() }),
    responseSerialize: (value: { text?: string }) => Buffer.from(value.text ?? ''),
  } as unknown as MethodDefinition<object, object>;
  return { path: definition.path, name: 'Service/Method', definition, handle: handle as never };
}

const options = (extra: object = {}) => ({ metadata: new Metadata(), clientAddress: '2001:db8::1', ...extra });

describe(invokeUnary.name, () => {
  it('hands the handler the decoded request, the metadata and the trusted address, and encodes its answer', async () => {
    let seen: InProcessCall | undefined;
    const outcome = await invokeUnary(
      rpc((call, done) => {
        seen = call;
        done(null, { text: `${(call.request as { text: string }).text}!` });
      }),
      Buffer.from('hi'),
      options(),
    );
    expect(outcome).toEqual({ ok: true, response: Buffer.from('hi!') });
    expect([seen?.clientAddress, seen?.getPeer(), seen?.getDeadline()]).toEqual([
      '2001:db8::1',
      '[2001:db8::1]:0',
      Infinity,
    ]);
  });

  it("takes the error filter's status as it is, with its error", async () => {
    const error = Errors.userNotFound();
    const status = toGrpcError(error);
    const outcome = await invokeUnary(
      rpc((_call, done) => done(status)),
      Buffer.alloc(0),
      options(),
    );
    expect(outcome).toEqual({
      ok: false,
      error,
      code: status.code,
      details: status.details,
      metadata: status.metadata,
    });
  });

  it('rejects with what no handler of ours makes, for the caller to answer INTERNAL and log', async () => {
    const thrown = new TypeError('boom');
    await expect(
      invokeUnary(
        rpc(() => Promise.reject(thrown)),
        Buffer.alloc(0),
        options(),
      ),
    ).rejects.toBe(thrown);
  });

  it('a deadline passed is DEADLINE_EXCEEDED and cancels the call; one beyond a timer never expires early', async () => {
    let call: InProcessCall | undefined;
    const past = await invokeUnary(
      rpc((c) => (call = c)),
      Buffer.alloc(0),
      options({ deadline: Date.now() - 1 }),
    );
    expect(past).toMatchObject({ ok: false, code: GrpcStatus.DEADLINE_EXCEEDED });
    expect(call).toBeUndefined(); // answered before the handler was started

    const far = await invokeUnary(
      rpc((_c, done) => setImmediate(() => done(null, { text: 'late but fine' }))),
      Buffer.alloc(0),
      options({ deadline: Date.now() + 9_999_999_999 }),
    );
    expect(far).toEqual({ ok: true, response: Buffer.from('late but fine') });
  });

  it('the caller going away is CANCELLED, and the handler sees its call cancelled', async () => {
    const gone = new AbortController();
    let call: InProcessCall | undefined;
    const pending = invokeUnary(
      rpc((c) => {
        call = c;
      }),
      Buffer.alloc(0),
      options({ signal: gone.signal }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    const heard = jest.fn();
    call!.on('cancelled', heard);
    gone.abort();
    expect(heard).toHaveBeenCalledTimes(1);
    expect(await pending).toMatchObject({ ok: false, code: GrpcStatus.CANCELLED });
    expect(call?.cancelled).toBe(true);
  });
});
