/** Reads the service's /metrics: webhook outcomes, to show what the load actually exercised. */

/**
 * Webhook requests by outcome from sms_webhook_requests_total.
 * @param port - the full service's port
 */
export async function outcomeCounts(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  return parseOutcomes(text);
}

export function parseOutcomes(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^sms_webhook_requests_total\{outcome="([^"]+)"\} (\d+(?:\.\d+)?)$/gm)) {
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}
