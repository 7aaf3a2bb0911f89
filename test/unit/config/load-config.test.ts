// Names rules/ only as the default RULES_DIR value it asserts; it reads no rules. (Allowed in test/support/fixture-rules.ts.)
import { expect } from 'chai';
import { DEV_AUTH_TOKEN, loadConfig } from '../../../src/config/load-config.js';

describe('loadConfig', () => {
  it('when the environment is empty, then the documented defaults apply and the dev token is used', () => {
    const config = loadConfig({});
    expect(config).to.deep.include({ port: 3000, host: '0.0.0.0', clinicsFile: 'config/clinics.yaml', rulesDir: 'rules', seedFile: 'config/demo-data.yaml', spoolDir: 'var/spool', mongodbUri: null, signatureValidation: true, devToken: true });
    expect(config.authTokens).to.deep.equal([DEV_AUTH_TOKEN]);
  });

  it('when several settings are wrong, then every problem is reported at once', () => {
    expect(() => loadConfig({ PORT: 'eighty', TRUST_PROXY: 'maybe', PUBLIC_BASE_URL: 'ftp://x' }))
      .to.throw(/PORT must be[\s\S]*PUBLIC_BASE_URL must be[\s\S]*TRUST_PROXY must be/)
      .with.property('code', 'CONFIG_INVALID');
  });

  it('when NODE_ENV=production and validation is off, then it refuses to start', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/', TWILIO_AUTH_TOKEN: 't', TWILIO_SIGNATURE_VALIDATION: 'off' })).to.throw(
      /TWILIO_SIGNATURE_VALIDATION=off is refused/,
    );
  });

  it('when NODE_ENV=production without MONGODB_URI, then it refuses to start', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', TWILIO_AUTH_TOKEN: 't' })).to.throw(/needs MONGODB_URI/);
  });

  it('when NODE_ENV=production without PUBLIC_BASE_URL, then it refuses to start and says the origin Twilio calls is needed', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/', TWILIO_AUTH_TOKEN: 't' })).to.throw(/NODE_ENV=production needs PUBLIC_BASE_URL/);
    expect(loadConfig({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/', TWILIO_AUTH_TOKEN: 't', PUBLIC_BASE_URL: 'https://sms.example.com' }).publicBaseUrl).to.equal('https://sms.example.com');
  });

  it('when NODE_ENV=production without a token, then the dev token is not used', () => {
    const config = loadConfig({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/', PUBLIC_BASE_URL: 'https://sms.example.com' });
    expect(config.authTokens).to.deep.equal([]);
    expect(config.devToken).to.equal(false);
  });

  it('when a previous token is set, then both tokens are accepted, current first', () => {
    expect(loadConfig({ TWILIO_AUTH_TOKEN: 'new', TWILIO_AUTH_TOKEN_PREVIOUS: 'old' }).authTokens).to.deep.equal(['new', 'old']);
  });

  it('when MEMORY_STORE_MAX_MESSAGES is unset, a whole number, or not one, then it defaults, applies, or is refused', () => {
    expect(loadConfig({}).memoryStoreMaxMessages).to.equal(50_000);
    expect(loadConfig({ MEMORY_STORE_MAX_MESSAGES: '1200' }).memoryStoreMaxMessages).to.equal(1200);
    expect(() => loadConfig({ MEMORY_STORE_MAX_MESSAGES: '0' })).to.throw(/MEMORY_STORE_MAX_MESSAGES must be a whole number from 1/);
    expect(() => loadConfig({ MEMORY_STORE_MAX_MESSAGES: 'lots' })).to.throw(/MEMORY_STORE_MAX_MESSAGES/);
  });

  it('when BACKGROUND_JOBS is unset, on or off with MONGODB_URI, then the jobs run by default, run, or do not run here', () => {
    expect(loadConfig({}).backgroundJobs).to.equal(true);
    expect(loadConfig({ BACKGROUND_JOBS: 'on' }).backgroundJobs).to.equal(true);
    expect(loadConfig({ BACKGROUND_JOBS: 'off', MONGODB_URI: 'mongodb://db/' }).backgroundJobs).to.equal(false);
    expect(loadConfig({ BACKGROUND_JOBS: 'OFF', MONGODB_URI: 'mongodb://db/' }).backgroundJobs).to.equal(false);
  });

  it('when BACKGROUND_JOBS=off on the embedded store, then it is refused with a reason naming both variables', () => {
    expect(() => loadConfig({ BACKGROUND_JOBS: 'off' }))
      .to.throw(/BACKGROUND_JOBS=off needs MONGODB_URI: .*no other instance can deliver events or fetch media/)
      .with.property('code', 'CONFIG_INVALID');
  });

  it('when BACKGROUND_JOBS=off on the embedded store and another setting is wrong, then both problems are reported at once', () => {
    expect(() => loadConfig({ BACKGROUND_JOBS: 'off', PORT: 'eighty' })).to.throw(/PORT must be[\s\S]*BACKGROUND_JOBS=off needs MONGODB_URI/);
  });

  it('when BACKGROUND_JOBS is neither on nor off, then it is refused with the accepted values', () => {
    expect(() => loadConfig({ BACKGROUND_JOBS: 'sometimes', MONGODB_URI: 'mongodb://db/' })).to.throw(/BACKGROUND_JOBS must be one of on, 1, true, off, 0, false, got "sometimes"/);
  });

  it('when PUBLIC_BASE_URL has a trailing slash, then it is dropped', () => {
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://api.example.com/' }).publicBaseUrl).to.equal('https://api.example.com');
  });

  it('when loaded, then the config is frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).to.equal(true);
    expect(Object.isFrozen(config.authTokens)).to.equal(true);
  });
});
