// Learning-rate schedules, stepped once per iteration like the official LambdaLR.
import type { Optimizer } from './optimizer.ts';

/** lr_t = initialLr * (1 - t / maxIters) ^ power  (FIANet: power 0.9, maxIters = iterations per epoch * epochs). */
export class PolyLR {
  lastIter = 0;
  constructor(readonly optimizer: Optimizer, readonly maxIters: number, readonly power = 0.9) {
    if (!(maxIters > 0)) throw new Error(`PolyLR: maxIters must be positive, found ${maxIters}`);
    this.apply();
  }
  factor(t: number): number {
    return Math.max(0, 1 - t / this.maxIters) ** this.power;
  }
  private apply(): void {
    for (const g of this.optimizer.paramGroups) g.lr = g.initialLr * this.factor(this.lastIter);
  }
  step(): void {
    this.lastIter++;
    this.apply();
  }
  stateDict(): { lastIter: number; maxIters: number; power: number } {
    return { lastIter: this.lastIter, maxIters: this.maxIters, power: this.power };
  }
  loadStateDict(s: { lastIter: number }): void {
    this.lastIter = s.lastIter;
    this.apply();
  }
}
