import { randomBytes } from 'node:crypto';
import type { ClinicsFile } from '../config/clinics-file.js';
import { loadClinicsFile } from '../config/clinics-file.js';
import { appointmentStatus, type InboundMessage, type StaffRouting } from '../domain.js';
import { AppError } from '../errors.js';
import { maskPhone, toE164 } from '../phone.js';
import type { Store } from '../store/store.js';
import { openBackend } from '../store/backend.js';
import { renderTwiml } from '../twilio/twiml.js';
import type { CompiledRules } from '../rules/compile.js';
import { decide, type RuleReport } from '../rules/evaluate.js';
import { applyDecision } from '../service/apply-decision.js';
import { loadRules } from '../rules/load-rules.js';
import { localTime } from '../rules/local-time.js';
import { resolveTime } from './test-runner/test-file.js';

export interface SimulateRequest {
  clinics: ClinicsFile;
  rules: ReadonlyMap<string, CompiledRules>;
  /** Only read from: wrapped so that any write throws. */
  store: Store;
  clinicId: string;
  from: string;
  body: string;
  /** Content types of attached media. */
  media?: readonly string[];
  /** An ISO time with a zone, "YYYY-MM-DD HH:MM" in the clinic's time zone, or omitted for now. */
  at?: string;
  now?: () => Date;
}

export interface SimulatedRule {
  name: string;
  priority: number;
  halt: boolean;
  action: string;
  source: string;
  result: 'matched' | 'not matched' | 'not run';
  /** Why it did not match or run: the conditions that failed with the fact's value, the missing keyword, the halting rule. */
  why: string[];
}

/** A family's pending question as simulate shows it. */
export interface SimulatedChoice {
  action: string;
  askedAt: string;
  expiresAt: string;
  attempts: number;
  options: Array<{ number: number; firstName: string; appointmentId: string; startsAt: string }>;
  /** What this message says to it (choice.answer), and the options it chose. */
  answer: string;
  chosen: number[];
}

export interface Simulation {
  clinic: { id: string; name: string; timezone: string };
  rulesVersion: string;
  files: readonly string[];
  message: { from: string; to: string; body: string; media: readonly string[]; at: string; local: string };
  sender: {
    patients: Array<{ id: string; firstName: string }>;
    optedOut: boolean;
    /** The soonest upcoming appointment among them, as it is now (before any action). */
    nextAppointment: { id: string; patientId: string; startsAt: string; status: string } | null;
    /** The sender's pending "which appointment?" question (null: none, or expired). */
    choice: SimulatedChoice | null;
  };
  /** message.revocation, and the phrase (with its list and language) that decided it. */
  revocation: { value: string; phrase: string | null; list: string | null; language: string | null };
  facts: Record<string, unknown>;
  rules: SimulatedRule[];
  actions: Array<{ rule: string; action: string; outcome: string; detail?: Record<string, unknown> }>;
  /** What the webhook would record as the message's status. */
  status: 'processed' | 'unknown-number';
  reply: string | null;
  twiml: string;
  notes: string[];
}

/**
 * Shows what a message would do, writing nothing: the facts, every rule with whether it
 * matched and why not (json-rules-engine's condition results), the actions with the
 * outcome they would have (dry run), the reply and the TwiML.
 * @param request - clinics, rules, a store to read from, and the message
 */
export async function simulate(request: SimulateRequest): Promise<Simulation> {
  const clinic = request.clinics.byId.get(request.clinicId);
  if (!clinic) {
    throw new AppError('NOT_FOUND', `no clinic "${request.clinicId}" (clinics: ${[...request.clinics.byId.keys()].join(', ')})`);
  }
  const rules = request.rules.get(clinic.id);
  if (!rules) {
    throw new AppError('RULES_INVALID', `clinic "${clinic.id}" has no valid rules: run \`clinic-sms rules check\``);
  }
  const from = toE164(request.from, clinic.defaultRegion);
  if (!from) {
    throw new AppError('BAD_REQUEST', `--from "${request.from}" is not a phone number`);
  }
  const now = request.at === undefined ? (request.now ?? (() => new Date()))() : parseAt(request.at, clinic.timezone);
  const store = readOnly(request.store);
  const [patients, optOut] = await Promise.all([store.findPatientsByPhone(clinic.id, from), store.getOptOut(clinic.id, from)]);
  const optedOut = optOut?.optedOut === true;
  const media = request.media ?? [];
  const message: InboundMessage = {
    messageSid: `SMsimulate${randomBytes(11).toString('hex')}`,
    from,
    to: clinic.phoneNumbers[0] ?? '',
    body: request.body,
    numMedia: media.length,
    media: media.map((contentType, i) => ({ url: `https://api.twilio.com/simulated/ME${i}`, contentType })),
    extra: {},
  };
  const next = patients.length === 0 ? null : await store.findNextAppointment(clinic.id, patients.map((p) => p.id), now);
  const sender = await store.peekSender(clinic.id, from);
  const input = { clinic, message, patients, optedOut, now, store, sender };
  const decision = await decide(rules, input, { explain: true });
  const reading = decision.context.choice;
  const choice: SimulatedChoice | null = reading.pending
    ? {
        action: reading.pending.action,
        askedAt: reading.pending.askedAt.toISOString(),
        expiresAt: reading.pending.expiresAt.toISOString(),
        attempts: reading.pending.attempts,
        options: reading.pending.options.map((o, i) => ({ number: i + 1, firstName: o.firstName, appointmentId: o.appointmentId, startsAt: o.startsAt.toISOString() })),
        answer: reading.answer,
        chosen: reading.chosen.map((c) => (reading.pending?.options.indexOf(c) ?? -1) + 1),
      }
    : null;
  const outcome = await applyDecision(rules, decision, input, { dryRun: true, staff: NO_STAFF_WRITES });
  const local = localTime(now, clinic.timezone);
  const byName = new Map(rules.rules.map((r) => [r.name, r]));
  const halting = decision.events.filter((e) => byName.get(e.ruleName)?.halt);
  const simulated: SimulatedRule[] = decision.ruleResults.map((report) => {
    const rule = byName.get(report.name);
    return {
      name: report.name,
      priority: report.priority,
      halt: rule?.halt ?? false,
      action: rule?.action ?? '',
      source: rule ? `${rule.source.file}:${rule.source.line}:${rule.source.col}` : '',
      result: report.skipped ? 'not run' : report.matched ? 'matched' : 'not matched',
      why: explain(report, rule?.requires ?? null, halting.filter((e) => e.priority > report.priority).map((e) => e.ruleName)),
    };
  });
  const notes: string[] = [];
  if (optedOut) {
    notes.push('the number is opted out: only opt-in and help actions are answered');
  }
  notes.push('not simulated: the per-sender rate limit and repeated deliveries of one MessageSid');
  return {
    clinic: { id: clinic.id, name: clinic.name, timezone: clinic.timezone },
    rulesVersion: rules.version,
    files: rules.files,
    message: {
      from,
      to: message.to,
      body: request.body,
      media,
      at: now.toISOString(),
      local: `${local.weekday} ${local.clock} ${clinic.timezone}`,
    },
    sender: {
      patients: patients.map((p) => ({ id: p.id, firstName: p.firstName })),
      optedOut,
      nextAppointment: next ? { id: next.id, patientId: next.patientId, startsAt: next.startsAt.toISOString(), status: appointmentStatus(next) } : null,
      choice,
    },
    facts: decision.facts,
    revocation: {
      value: decision.context.revocation.value,
      phrase: decision.context.revocation.phrase ?? null,
      list: decision.context.revocation.list ?? null,
      language: decision.context.revocation.language ?? null,
    },
    rules: simulated,
    actions: outcome.actions.map((a) => ({ rule: a.ruleName, action: a.type, outcome: a.outcome, ...(a.detail ? { detail: a.detail } : {}) })),
    status: patients.length === 0 ? 'unknown-number' : 'processed',
    reply: outcome.reply,
    twiml: renderTwiml(outcome.reply),
    notes,
  };
}

function parseAt(text: string, timeZone: string): Date {
  const at = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$/.test(text.trim()) ? resolveTime(text.trim().length === 10 ? `${text.trim()} 12:00` : text.trim(), timeZone) : new Date(NaN);
  if (Number.isNaN(at.getTime())) {
    throw new AppError('BAD_REQUEST', `--at "${text}": expected "2030-01-09 10:00" (clinic time) or an ISO time with a zone`);
  }
  return at;
}

interface ConditionJson {
  fact?: string;
  operator?: string;
  value?: unknown;
  factResult?: unknown;
  result?: boolean;
  all?: ConditionJson[];
  any?: ConditionJson[];
  not?: ConditionJson;
}

/** Why a rule did not match or did not run, one line a reason. */
function explain(report: RuleReport, requires: readonly string[] | null, haltedBy: readonly string[]): string[] {
  if (report.skipped === 'keyword-index') {
    const wanted = (requires ?? []).map((k) => k.replace(/^command:/, '').replace(/^keyword:/, 'first word '));
    return [`the message has none of its keywords (${wanted.join(', ')})`];
  }
  if (report.skipped === 'halted') {
    return [`a higher-priority rule halted: ${haltedBy.join(', ') || 'see the matched rules above'}`];
  }
  if (report.matched || !report.conditions) {
    return [];
  }
  return failing(report.conditions as ConditionJson, false);
}

function failing(node: ConditionJson, negated: boolean): string[] {
  if (node.all) {
    return node.all.flatMap((c) => failing(c, negated));
  }
  if (node.any) {
    const reasons = node.any.flatMap((c) => failing(c, negated));
    return reasons.length > 1 ? [`none of: ${reasons.join('; ')}`] : reasons;
  }
  if (node.not) {
    return failing(node.not, !negated);
  }
  if (node.fact === undefined) {
    return [];
  }
  const condition = `${negated ? 'not ' : ''}${node.fact} ${node.operator ?? ''} ${JSON.stringify(node.value)}`;
  if (node.result === undefined) {
    return [];
  }
  const holds = negated ? !node.result : node.result;
  return holds ? [] : [`${condition} (was ${JSON.stringify(node.factResult)})`];
}

const WRITES = new Set([
  'init',
  'claimMessage',
  'completeMessage',
  'advanceNextAppointment',
  'advanceAppointment',
  'saveChoice',
  'clearChoice',
  'noteStaffActivity',
  'noteAutoReply',
  'touchSender',
  'setOptOut',
  'upsertPatients',
  'upsertAppointments',
  'recordDuplicate',
  'giveUpMessage',
]);

/** Simulate writes nothing: a message it would route to staff is only reported. */
export const NO_STAFF_WRITES: StaffRouting = {
  routed: () => Promise.reject(new AppError('INTERNAL', 'simulate must not write (routed to staff)')),
};

/** The store with every write refused: simulate reads patients, appointments and opt-outs only. */
export function readOnly(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && WRITES.has(prop)) {
        return () => Promise.reject(new AppError('INTERNAL', `simulate must not write (${prop})`));
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export interface SimulateFromEnvOptions {
  env: Record<string, string | undefined>;
  rulesDir: string;
  clinicsFile: string;
  /** The embedded store's seed (used without MONGODB_URI); null for none. */
  seedFile: string | null;
  clinicId: string;
  from: string;
  body: string;
  media?: readonly string[];
  at?: string;
}

/**
 * Loads the clinics and rules from files and reads patients from MONGODB_URI (read-only:
 * no index creation, no writes) or, without it, from SEED_FILE in an embedded store.
 */
export async function simulateFromEnv(options: SimulateFromEnvOptions): Promise<Simulation> {
  const clinics = await loadClinicsFile(options.clinicsFile);
  const rules = await loadRules({ rulesDir: options.rulesDir, clinics: clinics.clinics });
  const backend = await openBackend({ mongodbUri: options.env.MONGODB_URI });
  const { store } = backend;
  const notes: string[] = [];
  if (backend.kind === 'mongo') {
    notes.push('patients, appointments and opt-outs read from MONGODB_URI (read-only)');
  } else {
    if (options.seedFile) {
      const { importDataFile } = await import('../import/import-data.js');
      await importDataFile(options.seedFile, { store, clinics: clinics.byId, relativeTo: new Date() });
      notes.push(`patients and appointments from ${options.seedFile} (SEED_FILE) in an embedded store`);
    } else {
      notes.push('no MONGODB_URI and no SEED_FILE: every number is unknown');
    }
  }
  try {
    const result = await simulate({
      clinics,
      rules,
      store,
      clinicId: options.clinicId,
      from: options.from,
      body: options.body,
      ...(options.media ? { media: options.media } : {}),
      ...(options.at === undefined ? {} : { at: options.at }),
    });
    result.notes.unshift(...notes);
    return result;
  } finally {
    await store.close();
  }
}

/** The text admins read. Shows the sender's number masked (the admin typed it; logs and screenshots travel). */
export function formatSimulation(sim: Simulation): string {
  const lines: string[] = [];
  lines.push(`clinic   ${sim.clinic.id} (${sim.clinic.name}), rules ${sim.rulesVersion} from ${sim.files.join(' + ')}`);
  lines.push(`message  from ${maskPhone(sim.message.from)} to ${sim.message.to} at ${sim.message.at} (${sim.message.local})`);
  lines.push(`         ${JSON.stringify(sim.message.body)}${sim.message.media.length > 0 ? ` + media: ${sim.message.media.join(', ')}` : ''}`);
  lines.push(
    `sender   ${sim.sender.patients.length === 0 ? 'unknown number' : `${sim.sender.patients.length} patient(s): ${sim.sender.patients.map((p) => p.firstName).join(', ')}`}${sim.sender.optedOut ? ', opted out' : ''}`,
  );
  const next = sim.sender.nextAppointment;
  lines.push(`next     ${next ? `appointment ${next.id} (patient ${next.patientId}) at ${next.startsAt}, ${next.status}` : 'no upcoming appointment'}`);
  if (sim.revocation.value !== 'none') {
    lines.push(`optout   ${sim.revocation.value}: phrase "${sim.revocation.phrase ?? ''}" of ${sim.revocation.list ?? ''} (${sim.revocation.language ?? ''})`);
  }
  const choice = sim.sender.choice;
  if (choice) {
    const options = choice.options.map((o) => `${o.number} ${o.firstName} (appointment ${o.appointmentId} at ${o.startsAt})`).join(', ');
    lines.push(`choice   pending "which appointment?" for ${choice.action}, asked ${choice.askedAt}, expires ${choice.expiresAt}, ${choice.attempts} unclear answer(s): ${options}`);
    lines.push(`         this message: ${choice.answer === 'chosen' ? `chooses ${choice.chosen.join(', ')}` : choice.answer === 'unclear' ? 'unclear (matches no option)' : 'not an answer (a keyword, or free text for staff)'}`);
  }
  lines.push('', 'facts');
  for (const [name, value] of Object.entries(sim.facts)) {
    lines.push(`  ${name.padEnd(26)} ${JSON.stringify(value)}`);
  }
  lines.push('', 'rules (priority order)');
  for (const rule of sim.rules) {
    const mark = rule.result === 'matched' ? 'MATCH' : rule.result === 'not run' ? 'skip ' : 'no   ';
    lines.push(`  ${mark} ${rule.name} (priority ${rule.priority}${rule.halt ? ', halts' : ''}, ${rule.action}) ${rule.source}`);
    for (const why of rule.why) {
      lines.push(`          ${rule.result === 'not run' ? 'not run: ' : 'failed: '}${why}`);
    }
  }
  lines.push('', 'actions (dry run: nothing written)');
  if (sim.actions.length === 0) {
    lines.push('  none');
  }
  for (const a of sim.actions) {
    lines.push(`  ${a.action} -> ${a.outcome} (rule ${a.rule})${a.detail ? ` ${JSON.stringify(a.detail)}` : ''}`);
  }
  lines.push('', `status   ${sim.status}`, `reply    ${sim.reply === null ? '(none)' : JSON.stringify(sim.reply)}`, `twiml    ${sim.twiml}`);
  if (sim.notes.length > 0) {
    lines.push('', ...sim.notes.map((n) => `note: ${n}`));
  }
  return lines.join('\n');
}
