import v8 from 'node:v8';

/**
 * Sets how far V8 lets the heap grow past what survived its last full collection before
 * it starts the next one: (1 + percent / 100) times the live size (V8's
 * `--heap-growing-percent`; 0 hands the choice back to V8's heuristics).
 *
 * Why the service sets it (docs/benchmarks.md, "Full collections"): under steady load the
 * live heap stays put, but V8's heuristics let it grow by only about a third before marking
 * again: 17–18 full collections a minute at 80% of the bench's maximum. Each one spends
 * 20–30 ms of main-thread marking steps within 40–60 ms, and at a high load the requests
 * that arrive meanwhile queue for longer than that. At 300 (four times the live size) it was
 * one a minute, for a resident size about 80 MB larger with the embedded store at its bound
 * (less with MongoDB, where the records are not in the process).
 *
 * V8 reads the value each time it sizes the heap after a collection, so setting it in a
 * running process takes effect from the next full collection on.
 * @param percent - 0 to 1000 (HEAP_GROWING_PERCENT, checked by loadConfig)
 * @param setFlags - V8's flag setter (tests pass a recorder)
 */
export function setHeapGrowth(percent: number, setFlags: (flags: string) => void = v8.setFlagsFromString): void {
  setFlags(`--heap-growing-percent=${percent}`);
}
