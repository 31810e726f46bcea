import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { BAD_REQUEST_TYPE, ERROR_DETAIL_TYPE, ERROR_INFO_TYPE, RETRY_INFO_TYPE } from '../errors/app-error';

// Documentation classes of the error body `toErrorBody` builds (google.rpc.Status as protobuf JSON):
// one schema in components, referenced by every error response of the document.

export class ErrorDetail {
  @ApiProperty({ enum: [ERROR_DETAIL_TYPE] })
  '@type': typeof ERROR_DETAIL_TYPE;
  @ApiProperty({ description: 'catalogue ID of the error', example: 'COMMAND-eis9R' })
  id: string;
  @ApiProperty({ description: 'the text without the ID', example: 'Code is invalid, 4 attempts left' })
  message: string;
}

export class FieldViolation {
  @ApiProperty({ example: 'verificationCode' })
  field: string;
  @ApiProperty()
  description: string;
}

export class BadRequest {
  @ApiProperty({ enum: [BAD_REQUEST_TYPE] })
  '@type': typeof BAD_REQUEST_TYPE;
  @ApiProperty({ type: [FieldViolation] })
  fieldViolations: FieldViolation[];
}

export class ErrorInfo {
  @ApiProperty({ enum: [ERROR_INFO_TYPE] })
  '@type': typeof ERROR_INFO_TYPE;
  @ApiProperty({ example: 'CODE_INVALID' })
  reason: string;
  @ApiProperty({ example: 'phone-verify' })
  domain: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  metadata?: Record<string, string>;
}

export class RetryInfo {
  @ApiProperty({ enum: [RETRY_INFO_TYPE] })
  '@type': typeof RETRY_INFO_TYPE;
  @ApiProperty({ description: 'protobuf Duration: seconds with an "s"', example: '60s' })
  retryDelay: string;
}

@ApiExtraModels(ErrorDetail, BadRequest, ErrorInfo, RetryInfo)
export class ErrorBody {
  @ApiProperty({ type: 'integer', description: 'gRPC status code', example: 3 })
  code: number;
  @ApiProperty({ description: '"<text> (<ID>)"', example: 'Code is invalid, 4 attempts left (COMMAND-eis9R)' })
  message: string;
  @ApiProperty({
    description: 'an ErrorDetail first, then BadRequest, ErrorInfo, RetryInfo as they apply; told apart by @type',
    type: 'array',
    items: {
      oneOf: [ErrorDetail, BadRequest, ErrorInfo, RetryInfo].map((model) => ({ $ref: getSchemaPath(model) })),
      discriminator: {
        propertyName: '@type',
        mapping: {
          [ERROR_DETAIL_TYPE]: getSchemaPath(ErrorDetail),
          [BAD_REQUEST_TYPE]: getSchemaPath(BadRequest),
          [ERROR_INFO_TYPE]: getSchemaPath(ErrorInfo),
          [RETRY_INFO_TYPE]: getSchemaPath(RetryInfo),
        },
      },
    },
  })
  details: Array<ErrorDetail | BadRequest | ErrorInfo | RetryInfo>;
}
