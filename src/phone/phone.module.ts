import { Module } from '@nestjs/common';
import { PhoneGrpcController } from './phone.grpc.controller';
import { AppConfig } from '../common/config/app-config.module';
import { UsersDataModule } from '../users/users-data.module';
import { CodeMac } from './code-mac';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneNumberParser } from './phone-number';
import { PhoneVerificationService } from './phone-verification.service';
import { PhoneController } from './phone.controller';
import { ConsoleSmsSender, NoneSmsSender, SmsSender } from './sms/sms-sender';

@Module({
  imports: [UsersDataModule],
  controllers: [PhoneController, PhoneGrpcController],
  providers: [
    PhoneVerificationService,
    PhoneCodesRepository,
    PhoneNumberParser,
    CodeMac,
    {
      provide: SmsSender,
      inject: [AppConfig],
      useFactory: (config: AppConfig): SmsSender =>
        config.SMS_PROVIDER === 'console' ? new ConsoleSmsSender() : new NoneSmsSender(),
    },
  ],
  exports: [PhoneVerificationService],
})
export class PhoneModule {}
