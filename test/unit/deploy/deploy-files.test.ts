import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { parseKeysFile } from '../../../src/auth/api-keys-file.js';
import { loadClinicsFile } from '../../../src/config/clinics-file.js';
import { HEARTBEAT_MS } from '../../../src/staff/live/live-hub.js';
import { parseStaffFile } from '../../../src/staff/auth/staff-file.js';
import { ROUTES } from '../../../src/staff/paths.js';

// The deployment files cannot be run here (no container runtime, no image registry), so
// these tests hold them to what docs/operations.md promises: which processes run, with which
// volumes, health checks and signals.

interface ComposeService {
  build?: string | { context: string };
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string; interval?: string; start_period?: string };
  stop_grace_period?: string;
  ports?: string[];
  networks?: Record<string, { ipv4_address?: string }>;
}

interface Compose {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
  networks?: Record<string, { ipam?: { config?: Array<{ subnet?: string }> } }>;
}

/** The VAR=value lines of deploy/clinic-sms.env.example that are set (not commented out). */
function envExample(): Record<string, string> {
  return Object.fromEntries(
    readFileSync('deploy/clinic-sms.env.example', 'utf8')
      .split('\n')
      .map((l) => /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] as string, m[2] as string]),
  );
}

const readCompose = (): Compose => YAML.parse(readFileSync('compose.yaml', 'utf8'), { merge: true }) as Compose;
const testOf = (s: ComposeService): string => [s.healthcheck?.test ?? []].flat().join(' ');
const seconds = (d: string | undefined): number => Number(/^(\d+)s$/.exec(d ?? '')?.[1] ?? NaN);

/** `name:/target[:ro]` split into its parts, `${VAR:-default}` as compose resolves it with VAR unset. */
function mounts(s: ComposeService): Array<{ source: string; target: string; readOnly: boolean }> {
  return (s.volumes ?? []).map((v) => {
    const [source = '', target = '', mode] = v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1').split(':');
    return { source, target, readOnly: mode === 'ro' };
  });
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function dockerInstructions(text: string): Array<{ op: string; args: string; stage: number }> {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  let stage = -1;
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      if (op.toUpperCase() === 'FROM') {
        stage += 1;
      }
      return { op: op.toUpperCase(), args: rest.join(' '), stage };
    });
}

/** systemd unit `Key=value` lines (a key may repeat). */
function unitEntries(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 1)];
    });
}

describe('deployment files', () => {
  describe('compose.yaml', () => {
    const compose = readCompose();
    const apps = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

    it('when parsed, then it runs three service instances built from the Dockerfile (two webhook, one worker), a proxy and MongoDB', () => {
      expect(Object.keys(compose.services).sort()).to.deep.equal(['app1', 'app2', 'mongo', 'proxy', 'worker']);
      expect(apps.map(([name]) => name).sort()).to.deep.equal(['app1', 'app2', 'worker']);
      for (const [, app] of apps) {
        expect(app.build).to.equal('.');
        expect(app.environment?.NODE_ENV).to.equal('production');
      }
    });

    it('when each instance is read, then it has its own named spool volume at SPOOL_DIR, declared at the top level', () => {
      const spoolVolumes = apps.map(([name, app]) => {
        const spoolDir = app.environment?.SPOOL_DIR;
        expect(spoolDir, name).to.be.a('string');
        const spool = mounts(app).find((m) => m.target === spoolDir);
        expect(spool, `${name} mounts nothing at ${String(spoolDir)}`).to.not.equal(undefined);
        expect(spool!.readOnly).to.equal(false);
        expect(spool!.source, 'a named volume, not a host folder').to.match(/^[a-z][\w-]*$/);
        expect(compose.volumes).to.have.property(spool!.source);
        return spool!.source;
      });
      expect(new Set(spoolVolumes).size, 'no two instances share a spool').to.equal(apps.length);
    });

    it('when each instance is read, then config/ and rules/ are mounted read-only where CLINICS_FILE and RULES_DIR point', () => {
      for (const [name, app] of apps) {
        const byTarget = new Map(mounts(app).map((m) => [m.target, m]));
        const configDir = path.posix.dirname(app.environment?.CLINICS_FILE ?? '');
        expect(byTarget.get(configDir), name).to.deep.include({ source: './deploy/config.example', readOnly: true });
        expect(path.posix.dirname(app.environment?.KEYS_FILE ?? ''), name).to.equal(configDir);
        expect(path.posix.dirname(app.environment?.STAFF_FILE ?? ''), name).to.equal(configDir);
        expect(byTarget.get(app.environment?.RULES_DIR ?? ''), name).to.deep.include({ source: './rules', readOnly: true });
      }
    });

    it("when the health checks are read, then each instance checks /healthz with node's fetch and MongoDB initiates and checks its replica set", () => {
      const mongo = compose.services.mongo!;
      const command = [mongo.command ?? []].flat();
      const replSet = command[command.indexOf('--replSet') + 1];
      expect(replSet).to.equal('rs0');
      expect(testOf(mongo)).to.include('rs.initiate(').and.include(`_id: '${replSet}'`).and.include("host: 'mongo:27017'");
      expect(testOf(mongo)).to.include('isWritablePrimary');
      for (const [name, app] of apps) {
        expect(testOf(app), name).to.include("fetch('http://127.0.0.1:3000/healthz')");
        expect(app.depends_on?.mongo, name).to.deep.equal({ condition: 'service_healthy' });
        expect(app.environment?.MONGODB_URI, `${name}: the URI holds credentials, so it comes from the env file`).to.equal(undefined);
      }
      const uri = new URL(envExample().MONGODB_URI ?? '');
      expect(uri.host).to.equal('mongo:27017');
      expect(uri.searchParams.get('replicaSet')).to.equal(replSet);
    });

    it('when MongoDB is read, then it runs with authentication (a key file for its replica set), its root user and the instances\' credentials come from deploy/clinic-sms.env, and docs/operations.md documents TLS for a database on another host', () => {
      const mongo = compose.services.mongo as ComposeService & { env_file?: Array<{ path: string; required?: boolean }>; entrypoint?: string[] | string };
      const text = readFileSync('compose.yaml', 'utf8');
      const started = [mongo.entrypoint ?? [], mongo.command ?? []].flat().join(' ');
      expect(started).to.include('--keyFile');
      expect(mongo.env_file).to.deep.equal([{ path: 'deploy/clinic-sms.env', required: true }]);
      expect(text).not.to.match(/MONGO_INITDB_ROOT_PASSWORD\s*:/);
      for (const [name, app] of apps) {
        expect((app as { env_file?: Array<{ path: string; required?: boolean }> }).env_file, name).to.deep.equal([{ path: 'deploy/clinic-sms.env', required: true }]);
      }
      const env = envExample();
      expect(env.MONGO_INITDB_ROOT_USERNAME).to.match(/\S/);
      expect(env.MONGO_INITDB_ROOT_PASSWORD).to.match(/\S/);
      const uri = new URL(env.MONGODB_URI ?? '');
      expect(decodeURIComponent(uri.username)).to.equal(env.MONGO_INITDB_ROOT_USERNAME);
      expect(decodeURIComponent(uri.password)).to.equal(env.MONGO_INITDB_ROOT_PASSWORD);
      expect(uri.searchParams.get('authSource')).to.equal('admin');
      // The health check authenticates with the same user to initiate and check the set.
      expect(testOf(mongo)).to.include('MONGO_INITDB_ROOT_USERNAME').and.include('MONGO_INITDB_ROOT_PASSWORD');
      const operations = readFileSync('docs/operations.md', 'utf8');
      expect(operations).to.match(/tls=true/).and.match(/tlsCAFile=/).and.match(/another host/);
    });

    it('when an instance is stopped, then compose waits longer than the drain and the spool flush before SIGKILL', () => {
      for (const [name, app] of apps) {
        // SHUTDOWN_GRACE_MS (10 s by default) plus up to 5 s of spool flush.
        expect(seconds(app.stop_grace_period), name).to.be.at.least(15);
      }
    });

    it('when BACKGROUND_JOBS is read, then the webhook instances run none and exactly one instance runs them', () => {
      const jobs = Object.fromEntries(apps.map(([name, app]) => [name, app.environment?.BACKGROUND_JOBS]));
      expect(jobs).to.deep.equal({ app1: 'off', app2: 'off', worker: 'on' });
      // The merge keeps the shared settings: the worker has the same database and files as the others.
      expect(compose.services.worker?.environment?.MONGODB_URI).to.equal(compose.services.app1?.environment?.MONGODB_URI);
    });

    it('when the proxy is read, then its Caddyfile sends to every webhook instance (not the worker) and PUBLIC_BASE_URL is the https origin it serves', () => {
      const proxy = compose.services.proxy!;
      const caddyfile = mounts(proxy).find((m) => m.target === '/etc/caddy/Caddyfile');
      expect(caddyfile).to.not.equal(undefined);
      const text = readFileSync(caddyfile!.source, 'utf8');
      const upstream = /reverse_proxy ([^{\n]+)/.exec(text)?.[1]?.trim().split(/\s+/);
      const webhook = apps.filter(([, app]) => app.environment?.BACKGROUND_JOBS === 'off');
      expect(upstream?.sort()).to.deep.equal(webhook.map(([name]) => `${name}:3000`).sort());
      expect(text).to.include('{$SITE_ADDRESS:localhost} {');
      // Readiness, not liveness: a database outage keeps instances in (their spools keep the messages).
      expect(text).to.match(/^\s*health_uri \/readyz$/m);
      for (const [, app] of apps) {
        expect(app.environment?.PUBLIC_BASE_URL).to.equal(`https://${String(proxy.environment?.SITE_ADDRESS)}`);
      }
    });
  });

  describe('Dockerfile', () => {
    const steps = dockerInstructions(readFileSync('Dockerfile', 'utf8'));
    const runtime = Math.max(...steps.map((s) => s.stage));
    const inRuntime = steps.filter((s) => s.stage === runtime);
    const last = (op: string): string | undefined => inRuntime.filter((s) => s.op === op).pop()?.args;

    it('when read, then it builds with all dependencies and runs on an official Node LTS slim image with production dependencies only', () => {
      const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
      expect(image).to.match(/^node:(22|24)-slim$/);
      const froms = steps.filter((s) => s.op === 'FROM').map((s) => s.args);
      expect(froms).to.deep.equal(['${NODE_IMAGE} AS build', '${NODE_IMAGE} AS runtime']);
      const build = steps.filter((s) => s.stage === 0 && s.op === 'RUN').map((s) => s.args);
      expect(build).to.include('npm ci --no-audit --no-fund').and.include('npm run build');
      expect(inRuntime.filter((s) => s.op === 'RUN').some((s) => s.args.startsWith('npm ci --omit=dev'))).to.equal(true);
      expect(inRuntime.some((s) => s.op === 'COPY' && s.args === '--from=build /app/dist ./dist')).to.equal(true);
    });

    it('when read, then it runs `node dist/src/main.js` under tini as the non-root node user, with a /healthz check and the spool as a volume', () => {
      expect(last('ENTRYPOINT')).to.equal('["/usr/bin/tini", "--"]');
      expect(last('CMD')).to.equal('["node", "dist/src/main.js"]');
      expect(last('USER')).to.equal('1000:1000');
      expect(last('HEALTHCHECK')).to.include("fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz')");
      const spoolDir = /SPOOL_DIR=(\S+)/.exec(last('ENV') ?? '')?.[1];
      expect(last('VOLUME')).to.equal(`["${String(spoolDir)}"]`);
      for (const [, app] of Object.entries(readCompose().services).filter(([, s]) => s.build !== undefined)) {
        expect(app.environment?.SPOOL_DIR).to.equal(spoolDir);
      }
    });

    it('when the build context is read, then .dockerignore keeps out dependencies, builds, local config, rules and env files', () => {
      const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim());
      expect(ignored).to.include.members(['.git', 'node_modules', 'dist', 'var', 'config', 'rules', '.env', '.env.*']);
      expect(ignored).to.not.include('src');
    });
  });

  describe('deploy/config.example (what compose mounts by default)', () => {
    it('when read as production reads it, then the clinics file is valid and names its secrets, the keys file has no demo key, and there is no seed', async () => {
      const clinics = await loadClinicsFile('deploy/config.example/clinics.yaml');
      expect(clinics.clinics.map((c) => c.id)).to.deep.equal(['main-street']);
      const text = readFileSync('deploy/config.example/clinics.yaml', 'utf8');
      for (const secret of ['TWILIO_AUTH_TOKEN', 'TWILIO_ACCOUNT_SID', 'authTokenEnv', 'secretEnv']) {
        expect(text, secret).to.include(secret);
      }
      expect(parseKeysFile(readFileSync('deploy/config.example/api-keys.yaml', 'utf8'), 'api-keys.yaml', { production: true })).to.deep.equal([]);
      expect(parseStaffFile(readFileSync('deploy/config.example/staff.yaml', 'utf8'), 'staff.yaml')).to.deep.equal([{ emailDomain: 'main-street-clinic.example', clinics: ['main-street'] }]);
      expect(readdirSync('deploy/config.example').sort()).to.deep.equal(['api-keys.yaml', 'clinics.yaml', 'staff.yaml']);
      for (const [name, app] of Object.entries(readCompose().services).filter(([, s]) => s.build !== undefined)) {
        expect(app.environment?.SEED_FILE, name).to.equal('none');
      }
    });
  });

  describe('proxy trust and what the proxies expose', () => {
    const compose = readCompose();
    const apps = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    /** What a proxy may pass on: the webhook, the status callback, the staff API with media, the staff pages. */
    const PUBLIC = ['/v1/clinic/webhooks/twilio/sms', '/v1/clinic/webhooks/twilio/status', '/v1/clinics/*', '/staff', '/staff/*'];

    it("when compose.yaml is read, then every instance trusts exactly the proxy service's fixed address, inside the network's subnet", () => {
      const address = compose.services.proxy?.networks?.default?.ipv4_address ?? '';
      const subnet = compose.networks?.default?.ipam?.config?.[0]?.subnet ?? '';
      expect(address).to.match(/^\d+\.\d+\.\d+\.\d+$/);
      expect(subnet.endsWith('/24') && address.startsWith(subnet.split('.').slice(0, 3).join('.') + '.')).to.equal(true);
      for (const [name, app] of apps) {
        expect(app.environment?.TRUST_PROXY, name).to.equal(address);
        expect(app.environment?.MAX_CONNECTIONS_PER_ADDRESS, `${name}: the proxy is exempt, so the default cap stays for everyone else`).to.equal(undefined);
      }
    });

    it('when the Caddyfiles are read, then they pass on only the webhook, the status callback, the staff API and media, and the staff pages, and answer 404 to the rest', () => {
      for (const file of ['deploy/caddy/Caddyfile', 'deploy/caddy/Caddyfile.compose']) {
        const text = readFileSync(file, 'utf8');
        expect(/@public path (.+)$/m.exec(text)?.[1]?.trim().split(/\s+/), file).to.deep.equal(PUBLIC);
        expect(text.match(/reverse_proxy /g), file).to.have.length(1);
        expect(text, file).to.match(/handle @public \{\n\t\treverse_proxy /);
        expect(text, file).to.match(/handle \{\n\t\trespond 404\n\t\}/);
      }
    });

    it('when the nginx example is read, then only those paths are proxied, with X-Forwarded-For set to the client nginx sees', () => {
      const text = readFileSync('deploy/nginx/clinic-sms.conf', 'utf8');
      const proxied = [...text.matchAll(/location (=?\s*\S+)\s+\{ include \/etc\/nginx\/snippets\/clinic-sms-proxy\.conf; \}/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
      expect(proxied).to.deep.equal(['= /v1/clinic/webhooks/twilio/sms', '= /v1/clinic/webhooks/twilio/status', '/v1/clinics/', '= /staff', '/staff/']);
      expect(text).to.match(/location \/ \{\n\s+return 404;\n\s+\}/);
      expect(text).to.not.match(/proxy_pass/);
      const snippet = readFileSync('deploy/nginx/clinic-sms-proxy.conf', 'utf8');
      expect(snippet).to.include('proxy_pass http://clinic_sms;').and.include('proxy_set_header X-Forwarded-For $remote_addr;');
    });

    it('when the nginx example is read, then the staff pages\' live stream is passed on unbuffered and outlives the service\'s heartbeat', () => {
      const text = readFileSync('deploy/nginx/clinic-sms.conf', 'utf8');
      const stream = /location ~ (\S+) \{\n([^}]*)\}/.exec(text);
      expect(stream, 'a regex location for the stream').to.not.equal(null);
      expect(new RegExp(stream![1]!).test(ROUTES.events.replace(':clinicId', 'downtown'))).to.equal(true);
      expect(stream![2]).to.include('include /etc/nginx/snippets/clinic-sms-proxy.conf;').and.include('proxy_buffering off;');
      const timeout = /proxy_read_timeout (\d+)s;/.exec(stream![2]!);
      expect(Number(timeout?.[1]) * 1000).to.be.greaterThan(HEARTBEAT_MS);
      // The snippet is included in that location too: a timeout there would be a duplicate directive.
      expect(readFileSync('deploy/nginx/clinic-sms-proxy.conf', 'utf8')).to.not.include('proxy_read_timeout');
    });
  });

  describe('systemd unit', () => {
    const file = 'deploy/systemd/clinic-sms@.service';
    const entries = unitEntries(readFileSync(file, 'utf8'));
    const get = (key: string): string[] => entries.filter(([k]) => k === key).map(([, v]) => v);

    it('when read, then systemd starts node on the compiled service itself, stops it with SIGTERM and reloads with SIGHUP', () => {
      expect(get('Type')).to.deep.equal(['exec']);
      expect(get('ExecStart')).to.deep.equal(['/usr/bin/node /opt/clinic-sms/dist/src/main.js']);
      expect(get('ExecReload')).to.deep.equal(['/bin/kill -HUP $MAINPID']);
      expect(get('KillSignal')).to.deep.equal(['SIGTERM']);
      expect(Number(get('TimeoutStopSec')[0])).to.be.at.least(15);
      expect(existsSync('src/main.ts')).to.equal(true);
    });

    it('when read, then everything it reads is in /etc/clinic-sms, it trusts only the proxy on this host, and its comment lists every secret the service reads', () => {
      const env = Object.fromEntries(get('Environment').map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
      for (const key of ['CLINICS_FILE', 'RULES_DIR', 'KEYS_FILE', 'STAFF_FILE']) {
        expect(env[key], key).to.match(/^\/etc\/clinic-sms\//);
      }
      expect(get('EnvironmentFile')).to.deep.equal(['/etc/clinic-sms/clinic-sms.env']);
      expect(env.HOST).to.equal('127.0.0.1');
      expect(env.TRUST_PROXY).to.equal('127.0.0.1,::1');
      const comment = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('#')).join('\n');
      for (const secret of ['TWILIO_AUTH_TOKEN', 'TWILIO_AUTH_TOKEN_PREVIOUS', 'TWILIO_ACCOUNT_SID', 'MONGODB_URI', '<authTokenEnv>', '<apiKeySecretEnv>', '<secretEnv>', 'STAFF_OIDC_CLIENT_SECRET']) {
        expect(comment, secret).to.include(secret);
      }
    });

    it('when read, then it is hardened and the spool of its instance is the only writable path', () => {
      expect(get('NoNewPrivileges')).to.deep.equal(['yes']);
      expect(get('ProtectSystem')).to.deep.equal(['strict']);
      expect(get('CapabilityBoundingSet')).to.deep.equal(['']);
      expect(get('MemoryDenyWriteExecute'), 'V8 needs W+X memory').to.deep.equal([]);
      const spool = get('Environment').find((e) => e.startsWith('SPOOL_DIR='))?.slice('SPOOL_DIR='.length) ?? '';
      const writable = get('ReadWritePaths');
      expect(writable).to.have.length(1);
      expect(spool.startsWith(`${writable[0]}/`)).to.equal(true);
      expect(writable[0]).to.include('%i');
    });
  });
});
