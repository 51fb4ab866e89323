import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TestProject } from 'vitest/node';
import { PYTHON } from '../suites.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** One moto server per vitest worker: a worker resets its own between tests. */
    motoEndpoints: string[];
  }
}

/** Starts moto on a free loopback port and resolves with its URL once it listens. */
function startMoto(): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('moto server did not start within 30 s'));
    }, 30_000);
    const lines: string[] = [];
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      lines.push(line);
      const m = /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`moto server exited (${code}): ${lines.slice(-3).join(' / ')}`));
    });
  });
}

export default async function setup(project: TestProject) {
  const workers = Math.max(Number(project.config.maxWorkers) || 1, 1);
  const servers = await Promise.all(Array.from({ length: workers }, () => startMoto()));
  project.provide('motoEndpoints', servers.map((s) => s.url));
  return () => {
    for (const s of servers) s.child.kill();
  };
}
