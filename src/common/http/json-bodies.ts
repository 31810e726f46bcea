import type { NextFunction, Request, Response } from 'express';
import { Errors } from '../errors/errors';

/** Whether a request carries content (RFC 9112 §6.3): chunked, or a Content-Length above 0. */
function carriesBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * After the JSON parser: a body it did not read (a form, multipart, text, no content type) is
 * refused with 415 instead of being taken for an empty request, which a use-case with no required
 * field would carry out. A request without content needs no content type.
 */
export function jsonBodiesOnly(req: Request, _res: Response, next: NextFunction): void {
  if (req.body !== undefined || !carriesBody(req)) return next();
  next(Errors.unsupportedMediaType());
}
