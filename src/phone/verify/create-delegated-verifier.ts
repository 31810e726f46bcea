import type { TwilioAccount, VerifierSettings } from './verifier.settings';
import { DelegatedVerifier } from './delegated-verifier';
import { PlivoVerify } from './plivo-verify';
import { TwilioVerify } from './twilio-verify';

/** The verifier PHONE_VERIFIER names, or null for `local` (settings validated: every required one is set). */
export function createDelegatedVerifier(settings: VerifierSettings, twilio: TwilioAccount): DelegatedVerifier | null {
  switch (settings.verifier) {
    case 'twilio-verify':
      return new TwilioVerify({
        baseUrl: settings.twilioBaseUrl,
        accountSid: twilio.accountSid!,
        authToken: twilio.authToken!,
        serviceSid: settings.twilioServiceSid!,
        channel: settings.twilioChannel,
        timeoutMs: settings.twilioTimeoutMs,
      });
    case 'plivo-verify':
      return new PlivoVerify({
        baseUrl: settings.plivoBaseUrl,
        authId: settings.plivoAuthId!,
        authToken: settings.plivoAuthToken!,
        appUuid: settings.plivoAppUuid,
        channel: settings.plivoChannel,
        timeoutMs: settings.plivoTimeoutMs,
      });
    default:
      return null;
  }
}
