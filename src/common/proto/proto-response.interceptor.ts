import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { map, Observable } from 'rxjs';
import { toProtoJson, toProtoMessage } from './proto-json';

/** Controllers return one response shape; this renders it as protobuf JSON (REST) or as a proto message (gRPC). */
@Injectable()
export class ProtoResponseInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const render = context.getType() === 'rpc' ? toProtoMessage : toProtoJson;
    return next.handle().pipe(map((value: unknown) => render(value)));
  }
}
