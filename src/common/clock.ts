/** The time of the service. Injected so that tests can move it (expiry, rolling windows, cooldowns). */
export class Clock {
  now(): Date {
    return new Date();
  }
}
