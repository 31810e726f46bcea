import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { CallerRef } from '../auth/caller-ref';
import { validateInput } from './validate-input';

const PRIMITIVES = new Set<unknown>([String, Number, Boolean, Object, Array]);

/** Global pipe for REST bodies and gRPC messages typed with a DTO class. */
@Injectable()
export class ProtoValidationPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (
      (metadata.type !== 'body' && metadata.type !== 'custom') ||
      // @CurrentCaller(): the caller is no request message (its declared type may read as Function)
      value instanceof CallerRef ||
      !metadata.metatype ||
      PRIMITIVES.has(metadata.metatype)
    )
      return value;
    return validateInput(metadata.metatype as new () => object, value);
  }
}
