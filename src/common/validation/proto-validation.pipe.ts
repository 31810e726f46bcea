import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { validateInput } from './validate-input';

const PRIMITIVES = new Set<unknown>([String, Number, Boolean, Object, Array]);

/** Global pipe for REST bodies and gRPC messages typed with a DTO class. */
@Injectable()
export class ProtoValidationPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (
      (metadata.type !== 'body' && metadata.type !== 'custom') ||
      !metadata.metatype ||
      PRIMITIVES.has(metadata.metatype)
    )
      return value;
    return validateInput(metadata.metatype as new () => object, value);
  }
}
