// Preloaded into the action's process by bench/cases/diagnose.ts (NODE_OPTIONS=--import=…):
//   BENCH_MEMWATCH_OUT: sample process.memoryUsage() every 10 ms; write the peaks at exit.
//   BENCH_ALLOC_OUT: V8's sampling heap profiler, counting objects that were collected too (all
//   allocations, not only the survivors); write the profile at exit.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

if (process.env.BENCH_MEMWATCH_OUT) {
  const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
  };
  setInterval(sample, 10).unref();
  process.on('exit', () => {
    sample();
    writeFileSync(process.env.BENCH_MEMWATCH_OUT, JSON.stringify(peak));
  });
}

if (process.env.BENCH_ALLOC_OUT) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  process.on('exit', () => {
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(process.env.BENCH_ALLOC_OUT, JSON.stringify(result.profile));
    });
  });
}
