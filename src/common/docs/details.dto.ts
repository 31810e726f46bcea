import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** zitadel.object.v2.Details as protobuf JSON: uint64 as a string, Timestamps as RFC 3339. */
export class DetailsDto {
  @ApiProperty({ description: 'uint64, as a string', example: '2' })
  sequence: string;
  @ApiProperty({ format: 'date-time', example: '2024-11-22T16:27:04.996Z' })
  changeDate: string;
  @ApiProperty({ description: 'ID of the organization owning the resource', example: '69629023906488334' })
  resourceOwner: string;
  @ApiPropertyOptional({ format: 'date-time', example: '2024-11-22T16:27:04.996Z' })
  creationDate?: string;
}
