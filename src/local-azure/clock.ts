/**
 * The emulated clock: real time plus an offset tests can move forward. Work that Azure does on a
 * schedule (the daily versionless-key check, propagation) runs when the clock passes its time.
 */

/** A controllable clock; `advance` never goes back in time. */
export interface Clock {
  now(): Date;
  /** Moves the clock forward and runs every task that became due. */
  advance(ms: number): void;
}

/** The clock plus a hook the emulator's scheduler registers. */
export class EmulatedClock implements Clock {
  private offsetMs = 0;
  private readonly listeners: Array<(now: Date) => void> = [];

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  nowMs(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('the clock only moves forward');
    this.offsetMs += ms;
    this.runDue();
  }

  /** Registers work that looks for due tasks whenever the clock is read by a request or moved. */
  onTick(listener: (now: Date) => void): void {
    this.listeners.push(listener);
  }

  /** Runs due work; the emulator calls this before every request so real time also counts. */
  runDue(): void {
    const now = this.now();
    for (const listener of this.listeners) listener(now);
  }
}
