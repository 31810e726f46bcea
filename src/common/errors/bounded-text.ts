/**
 * Bounds on the text an error reply carries. Over gRPC the message travels in the trailers twice
 * (grpc-message, and base64 in grpc-status-details-bin with every field violation), and a header
 * list over the peer's limit (16 KB at most in gRPC's C core, 64 KB in Node's HTTP/2) makes it
 * refuse the trailers: the call never ends and the connection stalls. With these bounds an
 * error's trailers stay under 16 KB whatever it echoes (a few hundred bytes as a rule); the
 * violations cover every field of the largest request.
 */
export const MAX_MESSAGE_BYTES = 1024;
export const MAX_VIOLATIONS = 24;
export const MAX_FIELD_BYTES = 64;
export const MAX_DESCRIPTION_BYTES = 160;

const SURROGATE = /[\uD800-\uDFFF]/;
const ELLIPSIS = '…';

/**
 * `text` cut to at most `maxBytes` of UTF-8 (at a character boundary, "…" marking the cut), with
 * unpaired surrogates replaced by U+FFFD: grpc-js percent-encodes grpc-message with encodeURI,
 * which throws on them.
 */
export function boundText(text: string, maxBytes = MAX_MESSAGE_BYTES): string {
  // a UTF-16 unit is at most 3 bytes of UTF-8: short text needs no encoding to be measured
  if (text.length * 3 <= maxBytes && !SURROGATE.test(text)) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return bytes.toString('utf8');
  let end = maxBytes - Buffer.byteLength(ELLIPSIS);
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // not inside a multi-byte character
  return bytes.subarray(0, end).toString('utf8') + ELLIPSIS;
}
