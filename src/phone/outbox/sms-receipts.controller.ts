import { Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
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

  /**
   * Vonage's receipts and MessageBird's status reports come as GET (fields in the query) by
   * default; Meta verifies its webhook URL with a GET challenge, answered as plain text.
   */
  @Public()
  @Get(':provider')
  @HttpCode(200)
  async receiveGet(
    @Param('provider') provider: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<object | string> {
    const at = req.originalUrl.indexOf('?');
    const answer = at < 0 ? undefined : this.receipts.challenge(provider, req.originalUrl.slice(at + 1));
    if (answer === undefined) return this.receive(provider, req);
    res.type('text/plain');
    return answer;
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
