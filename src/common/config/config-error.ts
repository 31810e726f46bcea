/** Settings refused at start-up: each problem starts with the variable it is about ("PORT: …"). */
export class ConfigError extends Error {
  /** the variables named, once each */
  readonly settings: string[];

  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.settings = [...new Set(problems.map((p) => p.split(':', 1)[0]))];
  }
}
