import { OneOf, Optional, Pattern, Setting, SettingsGroup, Text } from '../../common/config/setting';
import { PriceTable } from './price-table';
import { CountryGroups, parseCaps } from './spend-caps';

@SettingsGroup(
  'SMS spending caps',
  'Caps on what SMS cost, in money, per day and month (UTC) ([SMS spending](spending.md)).',
)
export class SpendSettings {
  @Setting(
    'SMS_SPEND_MODE',
    '`off`, `record` (count the spend and log what a cap would refuse) or `enforce` (refuse a send past a cap with 429 SPEND_CAP)',
  )
  @OneOf(['off', 'record', 'enforce'], 'off, record or enforce')
  readonly mode: 'off' | 'record' | 'enforce' = 'off';

  @Setting(
    'SMS_PRICE_CURRENCY',
    "the currency of SMS_PRICES and SMS_SPEND_CAPS (ISO 4217), also of the receipts' prices taken",
  )
  @Pattern(/^[A-Z]{3}$/, 'an ISO 4217 currency code such as EUR')
  readonly currency: string = 'EUR';

  @Setting(
    'SMS_PRICES',
    'price of one SMS: comma-separated `provider:COUNTRY=amount`, `*` for any (`twilio:CH=0.0741,*:LV=0.25`); unlisted: 0, unknown',
  )
  @Optional()
  @Text('comma-separated provider:COUNTRY=amount entries, such as twilio:CH=0.0741,*:*=0.05')
  readonly prices?: string = undefined;

  @Setting(
    'SMS_SPEND_CAPS',
    'caps: comma-separated `[org.|country.<CODE or group>.]day|month:amount` (`day:200,month:3000,org.day:50`)',
  )
  @Optional()
  @Text('comma-separated caps such as day:200,month:3000,org.day:50,country.premium.day:200')
  readonly caps?: string = undefined;

  @Setting('SMS_SPEND_COUNTRY_GROUPS', 'named groups of countries for the caps: `premium=LV|LT|EE,dach=DE|AT|CH`')
  @Optional()
  @Text('comma-separated name=CC|CC entries, such as premium=LV|LT|EE')
  readonly countryGroups?: string = undefined;

  problems(): string[] {
    const groups = CountryGroups.parse(this.countryGroups);
    return [
      ...PriceTable.parse(this.prices).problems.map((p) => `SMS_PRICES: ${p}`),
      ...groups.problems.map((p) => `SMS_SPEND_COUNTRY_GROUPS: ${p}`),
      ...parseCaps(this.caps, groups.groups).problems.map((p) => `SMS_SPEND_CAPS: ${p}`),
    ];
  }
}
