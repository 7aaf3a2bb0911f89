import { Ajv, type ErrorObject } from 'ajv';
import type { Finding } from '../errors.js';
import { WARNING_CODES } from './warning-codes.js';
import { formatPath, type JsonPath, type YamlSource } from './yaml-source.js';

const NAME = '^[a-z0-9][a-z0-9-]*$';
const LANGUAGE = '^[a-z]{2}$';
/** `accept: [code, ...]` on a rule or a template: warnings of `rules check` accepted on purpose. */
const ACCEPT = { type: 'array', items: { enum: WARNING_CODES } };
/** Phrases, written inline in both branches of `phrases:` so their errors stay inside the anyOf (one plain message). */
const PHRASE_LIST = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } };

/**
 * JSON Schema of one rules file (rules/default.yaml or rules/clinics/<id>.yaml). The
 * conditions are checked by conditions.ts instead, which gives better messages for
 * json-rules-engine's all/any/not shapes than oneOf errors would.
 */
export const RULES_FILE_SCHEMA = {
  $id: 'https://clinic-sms.example/rules-file.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    version: { const: 1 },
    keywords: {
      type: 'object',
      propertyNames: { pattern: '^[A-Z][A-Z0-9_]*$' },
      additionalProperties: {
        type: 'object',
        propertyNames: { pattern: LANGUAGE },
        additionalProperties: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      },
    },
    templates: {
      type: 'object',
      propertyNames: { pattern: NAME },
      additionalProperties: {
        anyOf: [
          { type: 'string' },
          {
            type: 'object',
            minProperties: 1,
            propertyNames: { pattern: '^([a-z]{2}|accept)$' },
            properties: { accept: ACCEPT },
            additionalProperties: { type: 'string' },
          },
        ],
      },
    },
    phrases: {
      type: 'object',
      propertyNames: { pattern: NAME },
      additionalProperties: {
        anyOf: [
          PHRASE_LIST,
          { type: 'object', minProperties: 1, propertyNames: { pattern: LANGUAGE }, additionalProperties: PHRASE_LIST },
        ],
      },
    },
    rules: { type: 'array', items: { $ref: '#/$defs/rule' } },
    quickReplies: {
      type: 'array',
      items: {
        type: 'object',
        required: ['shortcode', 'text'],
        additionalProperties: false,
        properties: {
          // The shortcode's own checks (form, length, duplicates) are in rules-file.ts, with plainer messages.
          shortcode: { type: 'string' },
          text: {
            anyOf: [
              { type: 'string' },
              { type: 'object', minProperties: 1, propertyNames: { pattern: LANGUAGE }, additionalProperties: { type: 'string' } },
            ],
          },
        },
      },
    },
    disable: { type: 'array', items: { type: 'string', pattern: NAME } },
    settings: {
      type: 'object',
      additionalProperties: false,
      properties: {
        choiceExpiresHours: { type: 'number', exclusiveMinimum: 0, maximum: 720 },
        choiceWithinDays: { type: 'number', exclusiveMinimum: 0, maximum: 365 },
        choiceMaxSegments: { type: 'integer', minimum: 1, maximum: 10 },
        staffActiveHours: { type: 'number', minimum: 0, maximum: 720 },
        autoReplyOnceHours: { type: 'number', minimum: 0, maximum: 720 },
      },
    },
  },
  $defs: {
    rule: {
      type: 'object',
      required: ['name', 'conditions', 'event'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: NAME, maxLength: 64 },
        description: { type: 'string' },
        priority: { type: 'integer', minimum: 1, maximum: 1000 },
        halt: { type: 'boolean' },
        accept: ACCEPT,
        conditions: { type: 'object' },
        event: {
          type: 'object',
          required: ['type'],
          additionalProperties: false,
          properties: {
            type: { type: 'string' },
            params: {
              type: 'object',
              additionalProperties: false,
              properties: {
                priority: { enum: ['urgent', 'normal'] },
                reason: { type: 'string', minLength: 1, maxLength: 60 },
                reply: {
                  anyOf: [
                    { type: 'string', pattern: NAME },
                    { type: 'object', minProperties: 1, additionalProperties: { type: 'string', pattern: NAME } },
                  ],
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

let compiled: ReturnType<Ajv['compile']> | undefined;

function validator(): ReturnType<Ajv['compile']> {
  if (!compiled) {
    compiled = new Ajv({ allErrors: true, strict: true }).compile(RULES_FILE_SCHEMA);
  }
  return compiled;
}

/**
 * Validates `source.data` against the schema.
 * @returns a finding (file:line:col) for every schema error
 */
export function schemaFindings(source: YamlSource): Finding[] {
  const validate = validator();
  if (validate(source.data)) {
    return [];
  }
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const errors = validate.errors ?? [];
  // An "expected a text or a map" hint adds nothing when a finding inside that value says what is wrong.
  const explainedInside = (err: ErrorObject): boolean =>
    errors.some((other) => other.instancePath.startsWith(`${err.instancePath}/`) && other.keyword === 'enum');
  for (const err of errors) {
    if (err.keyword === 'anyOf' && explainedInside(err)) {
      continue;
    }
    const finding = toFinding(source, err);
    if (finding) {
      const key = `${finding.line}:${finding.col}:${finding.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        findings.push(finding);
      }
    }
  }
  return findings;
}

function toFinding(source: YamlSource, err: ErrorObject): Finding | null {
  const path: JsonPath = err.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const where = formatPath(path) || 'file';
  switch (err.keyword) {
    case 'additionalProperties': {
      const extra = String((err.params as { additionalProperty: string }).additionalProperty);
      return source.findingAt([...path, extra], `${where}: unknown field "${extra}"`, { key: true });
    }
    case 'required': {
      const missing = String((err.params as { missingProperty: string }).missingProperty);
      return source.findingAt(path, `${where}: missing required field "${missing}"`);
    }
    case 'propertyNames': {
      const name = String((err.params as { propertyName: string }).propertyName);
      return source.findingAt([...path, name], `${where}: "${name}" is not a valid name here`, { key: true });
    }
    case 'pattern':
      // propertyNames reports the pattern too; keep only the propertyNames finding.
      if (err.propertyName !== undefined) {
        return null;
      }
      return source.findingAt(path, `${where}: must be lower-case letters, digits and dashes`);
    case 'anyOf':
      return source.findingAt(path, `${where}: expected ${anyOfHint(path)}`);
    case 'const':
      return source.findingAt(path, `${where}: must be 1`);
    case 'enum':
      if (path.at(-1) === 'priority') {
        return source.findingAt(path, `${where}: must be urgent or normal`);
      }
      return source.findingAt(path, `${where}: not a warning code (${WARNING_CODES.join(', ')})`);
    default:
      if (path.length >= 2 && path[0] === 'templates' && err.schemaPath.includes('anyOf')) {
        return null;
      }
      if (err.schemaPath.includes('anyOf')) {
        return null;
      }
      return source.findingAt(path, `${where}: ${err.message ?? 'invalid'}`);
  }
}

function anyOfHint(path: JsonPath): string {
  if (path[0] === 'phrases') {
    return 'a list of phrases, or a map of language to a list of phrases (en: [...], es: [...])';
  }
  if (path[0] === 'templates' || path[0] === 'quickReplies') {
    return 'a text, or a map of language to text (en: ..., es: ...)';
  }
  return 'a template name, or a map of action outcome to template name';
}
