import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidationArguments,
  ValidationOptions,
} from 'class-validator';
import { parseDuration } from './duration';

/** One environment variable, as its group declares it. */
export interface SettingInfo {
  readonly env: string;
  /** the group's property that holds it */
  readonly key: string;
  readonly description: string;
  /** how the reference shows the default when the value alone would mislead ("derived", "leased") */
  readonly defaultLabel?: string;
  /** what the validator accepts, in the words of its message ("an integer between 1 and 100") */
  readonly accepts: string;
  /** held in milliseconds, written as a duration */
  readonly duration: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- any class, its constructor as the key
type ClassKey = Function;
export type SettingsClass<T extends object = object> = new () => T;

const settings = new Map<ClassKey, Map<string, Partial<SettingInfo>>>();
const groups = new Map<
  ClassKey,
  { title: string; intro?: string; children: { key: string; type: () => SettingsClass }[] }
>();

function note(target: object, key: string | symbol, patch: Partial<SettingInfo>): void {
  const cls = target.constructor;
  const entries = settings.get(cls) ?? new Map<string, Partial<SettingInfo>>();
  settings.set(cls, entries);
  entries.set(String(key), { ...entries.get(String(key)), ...patch, key: String(key) });
}

/** The variable a group's property is read from. */
export function envOf(instance: object, key: string): string {
  return settings.get(instance.constructor)?.get(key)?.env ?? key;
}

/** A group's settings, in the order they are declared. */
export function settingsOf(cls: SettingsClass): SettingInfo[] {
  return [...(settings.get(cls)?.values() ?? [])].map((info) => {
    if (!info.env || info.description === undefined) throw new Error(`${cls.name}.${info.key} has no @Setting`);
    return { accepts: 'text', duration: false, ...info } as SettingInfo;
  });
}

/** A group's title, introduction and sub-groups. */
export function groupOf(cls: SettingsClass): {
  title: string;
  intro?: string;
  children: { key: string; type: SettingsClass }[];
} {
  const group = groups.get(cls);
  if (!group) throw new Error(`${cls.name} is not a @SettingsGroup`);
  return { ...group, children: group.children.map(({ key, type }) => ({ key, type: type() })) };
}

/** Marks a class as a group of settings, with the title its section of docs/configuration.md takes. */
export function SettingsGroup(title: string, intro?: string): ClassDecorator {
  return (target) => {
    groups.set(target, { title, intro, children: groups.get(target)?.children ?? [] });
  };
}

/** A property holding a sub-group (the SMS group's one per provider). */
export function Group(type: () => SettingsClass): PropertyDecorator {
  return (target, key) => {
    const entry = groups.get(target.constructor) ?? { title: '', children: [] };
    entry.children.push({ key: String(key), type });
    groups.set(target.constructor, entry);
  };
}

/** The variable a property is read from, and its one-line description for docs/configuration.md and .env.example. */
export function Setting(env: string, description: string, options: { default?: string } = {}): PropertyDecorator {
  return (target, key) => note(target, key, { env, description, defaultLabel: options.default });
}

/** A validator message naming the variable: "<VARIABLE> must be <text>". */
export function mustBe(text: string): ValidationOptions {
  return { message: (args: ValidationArguments) => `${envOf(args.object, args.property)} must be ${text}` };
}

/** Applies `decorators` and records `accepts` for the reference. */
export function Rule(accepts: string, ...decorators: PropertyDecorator[]): PropertyDecorator {
  return (target, key) => {
    note(target, key, { accepts });
    for (const decorator of decorators) decorator(target, key);
  };
}

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
export const toDurationMs = ({ value }: { value: unknown }) =>
  typeof value === 'string' || typeof value === 'number' ? parseDuration(value) : value;
const toBoolean = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^(true|false)$/i.test(value.trim()) ? value.trim().toLowerCase() === 'true' : value;
const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/** An integer setting: one message that names the variable and its range. */
export function IntRange(min: number, max: number): PropertyDecorator {
  const text = `an integer between ${min} and ${max}`;
  return Rule(text, Transform(toInt), IsInt(mustBe(text)), Min(min, mustBe(text)), Max(max, mustBe(text)));
}

/** A duration setting ("10m", "30s", "500ms" or whole seconds), held in milliseconds. */
export function DurationRange(min: string, max: string, example = ' (e.g. 30s, 10m)'): PropertyDecorator {
  const text = `a duration between ${min} and ${max}${example}`;
  return (target, key) => {
    note(target, key, { duration: true });
    Rule(
      text,
      Transform(toDurationMs),
      IsInt(mustBe(text)),
      Min(parseDuration(min), mustBe(text)),
      Max(parseDuration(max), mustBe(text)),
    )(target, key);
  };
}

/** A provider's request timeout: 1s to 60s. */
export function ProviderTimeout(): PropertyDecorator {
  return DurationRange('1s', '60s', ', such as 5s');
}

/** Unset, or set to nothing, the property keeps its default. */
export function Optional(): PropertyDecorator {
  return (target, key) => {
    IsOptional()(target, key);
    Transform(emptyToUndefined)(target, key);
  };
}

/** Any string; `accepts` says what the reference should tell operators to write. */
export function Text(accepts = 'text'): PropertyDecorator {
  return Rule(accepts, IsString());
}

/** One of `values`; the message lists them unless `text` says it better. */
export function OneOf(values: readonly string[], text = `one of the following values: ${values.join(', ')}`) {
  return Rule(text, IsIn(values, mustBe(text)));
}

/** A string matching `pattern`, described by `text` ("an http(s) URL without credentials"). */
export function Pattern(pattern: RegExp, text: string): PropertyDecorator {
  return Rule(text, Matches(pattern, mustBe(text)));
}

export function Bool(): PropertyDecorator {
  return Rule('true or false', Transform(toBoolean), IsBoolean(mustBe('true or false')));
}
