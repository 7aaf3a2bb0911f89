import { expect } from 'chai';
import { parseClinics } from '../../../src/config/clinics-file.js';
import type { AppError } from '../../../src/errors.js';

const head = 'clinics:\n  - id: a\n    name: A\n    phoneNumbers: ["+13125550100"]\n    timezone: America/Chicago\n';

function findingsOf(text: string): string[] {
  try {
    parseClinics(text, 'clinics.yaml');
  } catch (err) {
    return (err as AppError).findings.map((f) => `${f.file}:${f.line}:${f.col} ${f.message}`);
  }
  return [];
}

describe('clinics file: media settings', () => {
  it('when deleteMediaFromTwilio and an API key are given, then the clinic carries them; by default Twilio\'s copy is kept', () => {
    const sk = `SK${'a'.repeat(32)}`;
    const { byId } = parseClinics(`${head}    deleteMediaFromTwilio: true\n    apiKeySid: ${sk}\n    apiKeySecretEnv: A_TWILIO_KEY_SECRET\n`, 'c.yaml');
    expect(byId.get('a')).to.deep.include({ deleteMediaFromTwilio: true, apiKeySid: sk, apiKeySecretEnv: 'A_TWILIO_KEY_SECRET' });
    expect(parseClinics(head, 'c.yaml').byId.get('a')?.deleteMediaFromTwilio).to.equal(undefined);
  });

  it('when deleteMediaFromTwilio is not a boolean, or the API key is malformed or half given, then each is reported with file:line:col', () => {
    expect(findingsOf(`${head}    deleteMediaFromTwilio: "yes"\n`)).to.deep.equal(['clinics.yaml:6:28 clinics[0].deleteMediaFromTwilio: expected true or false']);
    expect(findingsOf(`${head}    apiKeySid: SK123\n    apiKeySecretEnv: lower-case\n`)).to.deep.equal([
      'clinics.yaml:6:16 clinics[0].apiKeySid: expected SK followed by 32 hex digits',
      'clinics.yaml:7:22 clinics[0].apiKeySecretEnv: expected an environment variable name',
    ]);
    expect(findingsOf(`${head}    apiKeySid: SK${'b'.repeat(32)}\n`)).to.deep.equal(['clinics.yaml:6:16 clinics[0]: apiKeySid and apiKeySecretEnv go together']);
  });
});
