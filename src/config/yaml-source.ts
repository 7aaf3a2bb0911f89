import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { firstYamlError, plainYamlMessage } from './yaml-errors.js';
import type { Finding } from '../errors.js';

export type JsonPath = ReadonlyArray<string | number>;

/** A parsed YAML file that can name the line and column of any value or key in it. */
export interface YamlSource {
  file: string;
  text: string;
  doc: Document;
  /** Plain data (aliases resolved); undefined for an empty file. */
  data: unknown;
  /** YAML syntax errors, with positions. */
  syntaxFindings: Finding[];
  /** The finding for the value at `path` (or its key, with `key: true`), falling back to the nearest existing parent. */
  findingAt(path: JsonPath, message: string, opts?: { key?: boolean; offset?: number; severity?: Finding['severity'] }): Finding;
}

/**
 * Parses YAML keeping source positions (yaml's LineCounter and node ranges).
 * @param text - file content
 * @param file - the path used in findings
 */
export function parseYamlSource(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false });
  const position = (offset: number): { line: number; col: number } => {
    const pos = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line: pos.line, col: pos.col };
  };
  // Only the first parser error: one bad indent makes yaml report several that follow from it.
  const firstError = firstYamlError(doc.errors);
  const syntaxFindings: Finding[] = [
    ...(firstError
      ? [{ file, ...position(firstError.first.pos[0]), message: plainYamlMessage(firstError.first), severity: 'error' as const }]
      : []),
    // yaml's warnings are unresolved tags (!!js/function and the like): refused too.
    ...doc.warnings.map((err) => ({ file, ...position(err.pos[0]), message: plainYamlMessage(err), severity: 'error' as const })),
  ];
  const data = syntaxFindings.some((f) => f.severity === 'error') ? undefined : (doc.toJS({ maxAliasCount: 100 }) as unknown);
  return {
    file,
    text,
    doc,
    data,
    syntaxFindings,
    findingAt(path, message, opts = {}) {
      const node = locate(doc, path, opts.key === true);
      let offset = node?.range?.[0] ?? 0;
      if (opts.offset !== undefined && node && isScalar(node)) {
        offset += scalarOffset(text, node, opts.offset);
      }
      return { file, ...position(offset), message, severity: opts.severity ?? 'error' };
    },
  };
}

/**
 * Maps an offset inside a scalar's value to an offset in the source: exact for plain
 * and single-line quoted scalars without escapes, else the scalar's start.
 */
function scalarOffset(text: string, node: Node, valueOffset: number): number {
  const range = node.range;
  if (!range || !isScalar(node) || typeof node.value !== 'string') {
    return 0;
  }
  const source = text.slice(range[0], range[1]);
  const quote = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
  if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') {
    return 0;
  }
  const inner = source.slice(quote, quote + node.value.length);
  return inner === node.value ? quote + valueOffset : 0;
}

/** Finds the node at `path` (or the key node of its last step), or the nearest parent that exists. */
function locate(doc: Document, path: JsonPath, wantKey: boolean): Node | null {
  let current: unknown = doc.contents;
  let found: Node | null = (doc.contents as Node | null) ?? null;
  for (let i = 0; i < path.length; i += 1) {
    const step = path[i];
    const last = i === path.length - 1;
    if (isMap(current)) {
      const pair = current.items.find((p) => isPair(p) && keyOf(p.key) === String(step));
      if (!pair) {
        return found;
      }
      if (last && wantKey) {
        return (pair.key as Node) ?? found;
      }
      current = pair.value;
    } else if (isSeq(current) && typeof step === 'number') {
      current = current.items[step];
    } else {
      return found;
    }
    if (current && typeof current === 'object' && 'range' in (current as object)) {
      found = current as Node;
    } else {
      return found;
    }
  }
  return found;
}

function keyOf(key: unknown): string {
  if (isScalar(key)) {
    return String(key.value);
  }
  return String(key);
}

/** "rules[2].event.params" for ['rules', 2, 'event', 'params']. */
export function formatPath(path: JsonPath): string {
  let out = '';
  for (const step of path) {
    out += typeof step === 'number' ? `[${step}]` : out === '' ? step : `.${step}`;
  }
  return out;
}
