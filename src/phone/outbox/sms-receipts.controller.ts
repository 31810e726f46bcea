import { Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request } from 'express';
import { Public } from '../../common/auth/public.decorator';
import { SmsReceiptsService } from './sms-receipts.service';

/**
 * REST only: where SMS providers post delivery receipts. No bearer token: each provider's
 * signature authenticates its receipts (SmsReceiptsService). The raw body is kept for it by
 * app.setup (`rawReceiptBodies`). Not in the OpenAPI document: no client of ours calls it.
 */
@ApiExcludeController()
@Controller('v2/sms/receipts')
export class SmsReceiptsController {
  constructor(private readonly receipts: SmsReceiptsService) {}

  /** Vonage's receipts and MessageBird's status reports come as GET (fields in the query) by default. */
  @Public()
  @Get(':provider')
  @HttpCode(200)
  receiveGet(@Param('provider') provider: string, @Req() req: Request): Promise<object> {
    return this.receive(provider, req);
  }

  @Public()
  @Post(':provider')
  @HttpCode(200)
  async receive(@Param('provider') provider: string, @Req() req: Request): Promise<object> {
    const at = req.originalUrl.indexOf('?');
    await this.receipts.receive(provider, {
      query: at < 0 ? '' : req.originalUrl.slice(at),
      headers: req.headers,
      rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
    });
    return {};
  }
}
