import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import { CodePointLength } from './validators';

/* Wire pieces that requests of several features share (users and phone both take a user_id). */

/** `user_id` everywhere: 1..200 code points. */
export function UserIdField(): PropertyDecorator {
  return (target, key) => {
    ApiProperty({ description: 'ID of the user', minLength: 1, maxLength: 200, example: '69629023906488334' })(
      target,
      key,
    );
    IsString()(target, key);
    CodePointLength(1, 200)(target, key);
  };
}

export class EmptyMessage {}
