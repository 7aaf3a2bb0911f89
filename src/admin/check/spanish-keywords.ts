import { filesOf, warningAt, type CheckWarning, type ClinicCheckContext } from './check-context.js';

/**
 * For a clinic that lists `es`: keywords its rules use that have no Spanish variant
 * (a patient texting "CONFIRMAR" would reach staff instead), and reply
 * templates written per language without a Spanish text.
 */
export function spanishWarnings(ctx: ClinicCheckContext): CheckWarning[] {
  if (!ctx.clinic.languages.includes('es')) {
    return [];
  }
  const findings: CheckWarning[] = [];
  const files = filesOf(ctx);
  const used = new Set(
    ctx.compiled.rules.flatMap((r) => (r.requires ?? []).filter((k) => k.startsWith('command:')).map((k) => k.slice('command:'.length))),
  );
  for (const command of [...used].sort()) {
    const defining = files.filter((f) => f.data?.keywords?.[command] !== undefined);
    const first = defining[0];
    if (!first || defining.some((f) => (f.data?.keywords?.[command]?.es?.length ?? 0) > 0)) {
      continue;
    }
    findings.push({
      code: 'missing-spanish',
      concerns: { rules: ctx.compiled.rules.filter((r) => r.requires?.includes(`command:${command}`)).map((r) => r.name) },
      ...warningAt(
        first,
        ['keywords', command],
        `keywords.${command}: no Spanish variant (add es: [...]) though the clinic lists es; a Spanish ${command} goes unrecognised`,
        true,
      ),
    });
  }
  for (const template of ctx.compiled.templates.values()) {
    const languages = Object.keys(template.texts);
    if (languages.includes('*') || languages.includes('es')) {
      continue;
    }
    const file = files.find((f) => f.file === template.source.file) ?? ctx.defaults;
    findings.push({
      code: 'missing-spanish',
      concerns: { template: template.name },
      ...warningAt(
        file,
        ['templates', template.name],
        `templates.${template.name}: no es text though the clinic lists es (Spanish speakers get ${languages.includes('en') ? 'the en text' : languages[0]})`,
        true,
      ),
    });
  }
  return findings;
}
