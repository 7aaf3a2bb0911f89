import { expect } from 'chai';
import { readConfig } from '../../../src/config/load-config.js';

const base = { TWILIO_AUTH_TOKEN: 't', SEED_FILE: 'none' };

describe('staff sign-in settings (STAFF_OIDC_*, STAFF_FILE, STAFF_SESSION_IDLE_MINUTES)', () => {
  it('when nothing is set, then the demo sign-in is used, config/staff.yaml is read and the idle timeout is 15 minutes', () => {
    const { config, problems } = readConfig(base);
    expect(problems).to.deep.equal([]);
    expect(config).to.include({ staffOidcIssuer: null, staffFile: 'config/staff.yaml', staffSessionIdleMinutes: 15 });
  });

  it('when an issuer is set without its client, then that is named', () => {
    const { problems } = readConfig({ ...base, STAFF_OIDC_ISSUER: 'https://accounts.google.com' });
    expect(problems).to.deep.equal(['STAFF_OIDC_ISSUER needs STAFF_OIDC_CLIENT_ID and STAFF_OIDC_CLIENT_SECRET']);
  });

  it('when NODE_ENV=production, then an http: issuer is refused, and the callback needs PUBLIC_BASE_URL', () => {
    const { problems } = readConfig({ ...base, NODE_ENV: 'production', MONGODB_URI: 'mongodb://db', STAFF_OIDC_ISSUER: 'http://idp.local', STAFF_OIDC_CLIENT_ID: 'c', STAFF_OIDC_CLIENT_SECRET: 's' });
    expect(problems).to.include('STAFF_OIDC_ISSUER must be https:// when NODE_ENV=production');
    expect(problems.some((p) => p.includes('PUBLIC_BASE_URL'))).to.equal(true);
  });

  it('when an http: issuer is set outside production (a local provider), then it is accepted', () => {
    const { config, problems } = readConfig({ ...base, STAFF_OIDC_ISSUER: 'http://127.0.0.1:4000/', STAFF_OIDC_CLIENT_ID: 'c', STAFF_OIDC_CLIENT_SECRET: 's' });
    expect(problems).to.deep.equal([]);
    expect(config.staffOidcIssuer).to.equal('http://127.0.0.1:4000/');
  });

  it('when the idle timeout or the issuer is not what it should be, then each is named', () => {
    const { problems } = readConfig({ ...base, STAFF_SESSION_IDLE_MINUTES: '0', STAFF_OIDC_ISSUER: 'idp.example' });
    expect(problems).to.include('STAFF_SESSION_IDLE_MINUTES must be a whole number from 1 to 720, got "0"');
    expect(problems).to.include('STAFF_OIDC_ISSUER must be an http(s) URL like https://accounts.google.com, got "idp.example"');
  });
});
