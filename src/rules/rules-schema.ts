import type { ErrorObject, ValidateFunction } from 'ajv';
import { compileSchema, schemaFindings as loaderFindings, type ErrorContext } from '../config/config-file.js';
import type { JsonPath, YamlSource } from '../config/yaml-source.js';
import type { Finding } from '../errors.js';
import { WARNING_CODES } from './warning-codes.js';

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

let compiled: ValidateFunction | undefined;

/**
 * Validates `source.data` against the schema, through the configuration loader
 * (config/config-file.ts) with the rules files' own words for some errors.
 * @returns a finding (file:line:col) for every schema error
 */
export function schemaFindings(source: YamlSource): Finding[] {
  compiled ??= compileSchema(RULES_FILE_SCHEMA);
  return loaderFindings(source, compiled, { explain: explainRulesError });
}

/** The rules files' words for an error (undefined: the loader's own words; null: said by another error). */
function explainRulesError(err: ErrorObject, { source, errors, path, where }: ErrorContext): Finding | null | undefined {
  const at = where || 'file';
  switch (err.keyword) {
    case 'additionalProperties':
    case 'required':
    case 'propertyNames':
      return undefined;
    case 'pattern':
      // propertyNames reports the pattern too; keep only the propertyNames finding.
      if (err.propertyName !== undefined) {
        return null;
      }
      return source.findingAt(path, `${at}: must be lower-case letters, digits and dashes`);
    case 'anyOf':
      // An "expected a text or a map" hint adds nothing when a finding inside that value says what is wrong.
      if (errors.some((other) => other.instancePath.startsWith(`${err.instancePath}/`) && other.keyword === 'enum')) {
        return null;
      }
      return source.findingAt(path, `${at}: expected ${anyOfHint(path)}`);
    case 'const':
      return source.findingAt(path, `${at}: must be 1`);
    case 'enum':
      if (path.at(-1) === 'priority') {
        return source.findingAt(path, `${at}: must be urgent or normal`);
      }
      return source.findingAt(path, `${at}: not a warning code (${WARNING_CODES.join(', ')})`);
    default:
      return err.schemaPath.includes('anyOf') ? null : undefined;
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
