// One clock for everything the benchmark records: epoch milliseconds with sub-millisecond
// resolution (performance.timeOrigin + performance.now()), so proxy arrivals, spawn and exit
// events and Glance's wall-clock timestamps can be subtracted from each other.
import { performance } from 'node:perf_hooks';

export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
