import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { CallerRef } from '../common/auth/caller-ref';
import { CurrentCaller } from '../common/auth/caller.decorator';
import { detailsMessage } from '../common/proto/details';
import { toProtoJson } from '../common/proto/proto-json';
import { ProtoRequest } from '../common/validation/proto-request.decorator';
import { AddOrganizationDto } from './dto/add-organization.dto';
import { OrganizationsService } from './organizations.service';
import { UserDocs } from './users.docs';

/** REST adapter of zitadel.org.v2.OrganizationService. */
@ApiTags('Organizations')
@Controller('v2/organizations')
export class OrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Post()
  @HttpCode(200)
  @UserDocs.addOrganization()
  async addOrganization(@CurrentCaller() caller: CallerRef, @ProtoRequest() req: AddOrganizationDto) {
    const result = await this.organizations.addOrganization(caller, req);
    return toProtoJson({ ...result, details: detailsMessage(result.details) });
  }
}
