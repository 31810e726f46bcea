import { Setting, SettingsGroup, Text } from '../common/config/setting';

@SettingsGroup('First start and organizations')
export class UsersSettings {
  @Setting('FIRST_INSTANCE_PAT_PATH', 'where the first start writes the admin token (mode 0600)')
  @Text('a file path')
  readonly firstInstancePatPath: string = './data/admin.pat';

  @Setting('FIRST_INSTANCE_ORG_NAME', 'name of the organization the first start creates')
  @Text()
  readonly firstInstanceOrgName: string = 'DEFAULT';

  @Setting('EXTERNAL_DOMAIN', 'suffix of organization domains (login names are `user@org.<domain>`)')
  @Text('a host name')
  readonly externalDomain: string = 'localhost';
}
