import { Clock } from '../../../src/common/clock';

/** A clock that stands still at a fixed instant until a test moves it. */
export class ManualClock extends Clock {
  private at: number;

  constructor(start = '2026-03-01T12:00:00Z') {
    super();
    this.at = new Date(start).getTime();
  }

  override now(): Date {
    return new Date(this.at);
  }

  advance(ms: number): void {
    this.at += ms;
  }
}
