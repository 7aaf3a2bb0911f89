import { expect } from 'chai';
import { checkMediaUrl, checkRedirect } from '../../../src/media/url-policy.js';
import { loadConfig } from '../../../src/config/load-config.js';

const AC = `AC${'a'.repeat(32)}`;
const MM = `MM${'b'.repeat(32)}`;
const ME = `ME${'c'.repeat(32)}`;
const PATH = `/2010-04-01/Accounts/${AC}/Messages/${MM}/Media/${ME}`;
const prod = { production: true, apiBaseUrl: 'https://api.twilio.com' };
const dev = { production: false, apiBaseUrl: 'http://127.0.0.1:4555' };

describe('media URL policy', () => {
  it('when the URL is Twilio\'s API (global or regional) with a media path, then it is allowed with its SIDs', () => {
    for (const host of ['api.twilio.com', 'api.ie1.twilio.com', 'api.dublin.ie1.twilio.com']) {
      const r = checkMediaUrl(`https://${host}${PATH}`, prod);
      expect(r.ok, host).to.equal(true);
      expect(r.ok && r.media).to.include({ accountSid: AC, messageSid: MM, mediaSid: ME });
    }
  });

  it('when the URL has another scheme, host, port, credentials, query or path, then it is refused with the reason', () => {
    const refused = (url: string, policy = prod): string => {
      const r = checkMediaUrl(url, policy);
      return r.ok ? 'allowed' : r.reason;
    };
    expect(refused(`http://api.twilio.com${PATH}`)).to.match(/scheme http:/);
    expect(refused(`https://api.twilio.com:8443${PATH}`)).to.match(/host is not/);
    expect(refused(`https://user:pw@api.twilio.com${PATH}`)).to.equal('credentials in the URL');
    expect(refused(`https://api.twilio.com${PATH}?x=1`)).to.equal('query or fragment not allowed');
    expect(refused(`https://api.twilio.com${PATH}/../../x`)).to.match(/path is not/);
    expect(refused(`https://twilio.com${PATH}`)).to.match(/host is not/);
    expect(refused(`https://api.a.b.c.twilio.com${PATH}`)).to.match(/host is not/);
    expect(refused(`https://[::1]${PATH}`)).to.match(/host is not/);
    expect(refused('not a url')).to.equal('not a URL');
    expect(refused(`http://127.0.0.1:4555${PATH}`), 'the fake only outside production').to.match(/scheme http:/);
    expect(refused(`http://127.0.0.1:4555${PATH}`, dev)).to.equal('allowed');
    // Outside production any loopback origin may serve media (npm run try -- --media photo.jpg serves it there).
    expect(refused(`http://127.0.0.1:4556${PATH}`, dev), 'this machine, outside production').to.equal('allowed');
    expect(refused(`http://[::1]:4556${PATH}`, dev)).to.equal('allowed');
    expect(refused(`http://localhost:4556${PATH}`, dev)).to.equal('allowed');
    expect(refused(`http://10.0.0.5:4556${PATH}`, dev), 'another machine').to.match(/scheme http:/);
    expect(refused(`http://127.0.0.1:4556/cdn/x`, dev)).to.match(/path is not/);
    expect(refused(`http://127.0.0.1:4556${PATH}`), 'never in production').to.match(/scheme http:/);
  });

  it('when Twilio redirects, then only https hops to its CDN hosts are followed, never an IP, another host or another scheme', () => {
    const hop = (url: string, policy = prod): string | null => checkRedirect(new URL(url), policy);
    expect(hop('https://mms.twiliocdn.com/AC/abc')).to.equal(null);
    expect(hop('https://s3-external-1.amazonaws.com/media.twiliocdn.com/AC/abc')).to.equal(null);
    expect(hop('https://s3-external-1.amazonaws.com/someone-elses-bucket/x')).to.match(/outside Twilio/);
    expect(hop('http://mms.twiliocdn.com/x')).to.match(/scheme http:/);
    expect(hop('https://169.254.169.254/latest/meta-data')).to.match(/IP address/);
    expect(hop('https://evil.example.com/x')).to.match(/outside Twilio/);
    expect(hop('https://mms.twiliocdn.com.evil.example/x')).to.match(/outside Twilio/);
    expect(hop('file:///etc/passwd')).to.match(/scheme file:/);
    expect(hop('http://127.0.0.1:4555/cdn/x', dev)).to.equal(null);
  });

  it('when TWILIO_API_BASE_URL is not https in production, then the configuration is refused', () => {
    const base = { NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/', TWILIO_AUTH_TOKEN: 't', PUBLIC_BASE_URL: 'https://sms.example.com' };
    expect(() => loadConfig({ ...base, TWILIO_API_BASE_URL: 'http://127.0.0.1:4555' })).to.throw(/TWILIO_API_BASE_URL must be https/);
    expect(loadConfig({ ...base }).twilioApiBaseUrl).to.equal('https://api.twilio.com');
    expect(loadConfig({ TWILIO_API_BASE_URL: 'http://127.0.0.1:4555/' }).twilioApiBaseUrl).to.equal('http://127.0.0.1:4555');
    expect(() => loadConfig({ TWILIO_API_BASE_URL: 'ftp://x' })).to.throw(/TWILIO_API_BASE_URL must be an http\(s\)/);
  });
});
