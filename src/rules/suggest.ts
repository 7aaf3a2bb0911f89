/**
 * "Did you mean": the known name closest to a mistyped one, for the rules checker's
 * messages about unknown facts, actions, phrase lists and the like.
 */

/** Edit distance (insertions, deletions, substitutions, and swaps of two neighbours). */
function distance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (d[rows - 1] as number[])[cols - 1] as number;
}

/**
 * The known name most like `name`, when one is close enough to be a likely typo (case
 * ignored): "patient.known" finds "patients.known", "time.dat" finds "time.date".
 * @param name - what was written
 * @param known - the valid names
 * @returns the suggestion, or undefined
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const wanted = name.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of known) {
    const score = distance(wanted, candidate.toLowerCase());
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  // About a third of the name may be wrong: "time.dat" → "time.date", not "clinic.id" for "x".
  const allowed = Math.max(2, Math.floor(wanted.length / 3));
  return best !== undefined && bestScore <= allowed && bestScore > 0 ? best : undefined;
}

/** ` (did you mean "x"?)` for a close name, else "". */
export function didYouMean(name: string, known: Iterable<string>): string {
  const best = closestName(name, known);
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}
