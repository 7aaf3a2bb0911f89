import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** A service process (`node --import tsx src/main.ts`) a test started, on the port its start line gave. */
export interface ServiceProcess {
  name: string;
  child: ChildProcessWithoutNullStreams;
  port: number;
  exited: Promise<void>;
}

type LogLine = Record<string, unknown> & { msg?: string };

/**
 * Starts the service as its own process and resolves when its `listening` line gives the
 * port (LOG_LEVEL must let info lines through; PORT=0 picks a free one). tsx compiles src/
 * at start, which is slow on a loaded machine: it waits up to 180 s, then kills it.
 * @param name - for messages
 * @param env - the whole environment of the process
 */
export async function startServiceProcess(name: string, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let partial = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name}: no start line in 180 s (tsx compiles src/ at start: slow on a loaded machine); stderr: ${stderr}`));
    }, 180_000);
    child.once('exit', (code) => reject(new Error(`${name} exited (${String(code)}) before listening; stderr: ${stderr}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts.filter((p) => p.startsWith('{'))) {
        const line = JSON.parse(part) as LogLine;
        if (line.msg === 'listening') {
          clearTimeout(timer);
          resolve(Number(String(line.address).split(':').pop()));
        }
      }
    });
  });
  return { name, child, port, exited };
}

/**
 * Stops a service process with `signal` (SIGKILL after 10 s) and waits for its exit; one
 * that already exited is left as it is.
 * @param instance - the process
 * @param signal - SIGTERM (a graceful drain) unless a test wants another
 */
export async function stopServiceProcess(instance: ServiceProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (instance.child.exitCode === null && instance.child.signalCode === null) {
    instance.child.kill(signal);
    const timer = setTimeout(() => instance.child.kill('SIGKILL'), 10_000);
    await instance.exited;
    clearTimeout(timer);
  }
}
