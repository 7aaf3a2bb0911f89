/** Counts event-loop turns (one setImmediate after another) until stopped: shows whether work let the loop turn. */
export function turnCounter(): { now: () => number; stop: () => void } {
  let turns = 0;
  let timer = setImmediate(function tick() {
    turns += 1;
    timer = setImmediate(tick);
  });
  return { now: () => turns, stop: () => clearImmediate(timer) };
}
