/** A pino destination that keeps every line, to assert on what was (not) logged. */
export interface LogCapture {
  write(line: string): void;
  lines: string[];
  text(): string;
  records(): Array<Record<string, unknown>>;
}

export function createLogCapture(): LogCapture {
  const lines: string[] = [];
  return {
    lines,
    write(line: string) {
      lines.push(line);
    },
    text: () => lines.join(''),
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
