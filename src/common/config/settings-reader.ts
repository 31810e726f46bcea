import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { envOf, groupOf, SettingInfo, SettingsClass, settingsOf } from './setting';

/** What a group's own rules that span its settings are told. */
export interface SettingsContext {
  readonly production: boolean;
}

/** A group with rules over several of its settings (and its sub-groups'). */
interface CheckedGroup {
  problems(context: SettingsContext): string[];
}

function describe(group: object, errors: ValidationError[]): string[] {
  // several constraints of one variable often share a message: say it once
  return errors.flatMap((e) =>
    [...new Set(Object.values(e.constraints ?? {}))].map((m) => `${envOf(group, e.property)}: ${m}`),
  );
}

function read<T extends object>(cls: SettingsClass<T>, env: Record<string, unknown>, problems: string[]): T {
  const input: Record<string, unknown> = {};
  for (const { env: name, key } of settingsOf(cls)) {
    if (env[name] !== undefined) input[key] = env[name];
  }
  const group = plainToInstance(cls, input, { exposeDefaultValues: true });
  problems.push(...describe(group, validateSync(group, { skipMissingProperties: false, forbidUnknownValues: false })));
  for (const { key, type } of groupOf(cls).children) {
    Object.assign(group, { [key]: read(type, env, problems) });
  }
  return group;
}

function check(group: object, context: SettingsContext, problems: string[]): void {
  if (typeof (group as Partial<CheckedGroup>).problems === 'function') {
    problems.push(...(group as CheckedGroup).problems(context));
  }
  for (const { key } of groupOf(group.constructor as SettingsClass).children) {
    check((group as Record<string, object>)[key], context, problems);
  }
}

/**
 * Every group under `root`, each from its own variables of `env`, with defaults: first each
 * setting's validator, then each group's rules over several settings. Returns the problems too,
 * each starting with the variable it is about.
 */
export function readSettings<T extends object>(
  root: SettingsClass<T>,
  env: Record<string, unknown>,
  context: (config: T) => SettingsContext,
): { config: T; problems: string[] } {
  const problems: string[] = [];
  const config = read(root, env, problems);
  check(config, context(config), problems);
  return { config, problems };
}

/** A setting as the reference lists it: under its group's title, with its default value. */
export interface CatalogueEntry extends SettingInfo {
  readonly group: string;
  readonly value: unknown;
}

/** Every setting under `root`, group by group, in declaration order. */
export function settingsCatalogue(root: SettingsClass): CatalogueEntry[] {
  const defaults = new root() as Record<string, unknown>;
  const { title, children } = groupOf(root);
  return [
    ...settingsOf(root).map((info) => ({ ...info, group: title, value: defaults[info.key] })),
    ...children.flatMap((child) => settingsCatalogue(child.type)),
  ];
}

/** A read configuration as variable → value, every group's (what specs and the drift check compare). */
export function valuesByVariable(config: object): Record<string, unknown> {
  const cls = config.constructor as SettingsClass;
  const own = settingsOf(cls).map(({ env, key }) => [env, (config as Record<string, unknown>)[key]]);
  const nested = groupOf(cls).children.map(({ key }) => valuesByVariable((config as Record<string, object>)[key]));
  return Object.assign(Object.fromEntries(own), ...nested);
}
