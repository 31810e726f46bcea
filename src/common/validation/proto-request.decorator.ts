import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/**
 * The whole request message of a REST call: the JSON body with the path parameters laid over it
 * (for `body: "*"` the path wins). Validated by the global ProtoValidationPipe against the DTO type.
 */
export const ProtoRequest = createParamDecorator((_: unknown, context: ExecutionContext) => {
  const req = context.switchToHttp().getRequest<Request>();
  const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body : {};
  return { ...(body as object), ...req.params };
});
