import { AppError, toErrorBody } from './app-error';
import { boundText, MAX_MESSAGE_BYTES, MAX_VIOLATIONS } from './bounded-text';
import { toGrpcError } from './error.filter';
import { Errors } from './errors';
import { GrpcStatus } from './grpc-status';

describe(boundText.name, () => {
  it('leaves short text as it is', () => {
    expect(boundText('unknown service "a.B"')).toBe('unknown service "a.B"');
    expect(boundText('😀 émoji')).toBe('😀 émoji');
  });

  it.each([
    ['ASCII', 'x'],
    ['two-byte', 'é'],
    ['three-byte', '€'],
    ['four-byte', '😀'],
  ])('cuts %s text at a character boundary within the bound, marking the cut', (_name, char) => {
    const cut = boundText(char.repeat(5_000));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(Buffer.byteLength(cut)).toBeGreaterThan(MAX_MESSAGE_BYTES - 8);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut.slice(0, -1)).toBe(char.repeat(cut.slice(0, -1).length / char.length));
  });

  it('replaces unpaired surrogates (grpc-js encodeURI throws on them)', () => {
    expect(boundText('a\ud800b\udc00')).toBe('a\ufffdb\ufffd');
    expect(() => encodeURI(boundText('\ud800'.repeat(2_000)))).not.toThrow();
  });
});

describe('AppError bounds what it echoes', () => {
  it('bounds the text, and so the wire message and the ErrorDetail', () => {
    const error = new AppError(GrpcStatus.NOT_FOUND, 'HEALTH-3nkwn', `unknown service "${'x'.repeat(40_000)}"`);
    expect(Buffer.byteLength(error.text)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(error.message).toBe(`${error.text} (HEALTH-3nkwn)`);
    expect(toErrorBody(error).details[0]).toMatchObject({ message: error.text });
  });

  it('keeps the first field violations, each bounded', () => {
    const violations = Array.from({ length: 50 }, (_, i) => ({
      field: `f${i}`.repeat(100),
      description: 'd'.repeat(5_000),
    }));
    const error = Errors.validation(violations);
    const kept = error.extras.fieldViolations!;
    expect(kept).toHaveLength(MAX_VIOLATIONS);
    expect(kept[0].field.startsWith('f0f0')).toBe(true);
    expect(kept.every((v) => Buffer.byteLength(v.field) <= 64 && Buffer.byteLength(v.description) <= 160)).toBe(true);
    expect(Buffer.byteLength(error.message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES + 20);
  });

  it('keeps the trailers of the worst error under 16 KB (grpc-message and grpc-status-details-bin)', () => {
    const huge = '\u{1F600}'.repeat(10_000);
    const error = toGrpcError(
      Errors.validation(Array.from({ length: 100 }, () => ({ field: huge, description: huge }))),
    );
    const details = (error.metadata.get('grpc-status-details-bin')[0] as Buffer).toString('base64');
    expect(encodeURI(error.details).length + details.length).toBeLessThan(16_384);
  });
});
