// Every registered component passes the same checks: a config schema that
// rejects unknown keys, a lifecycle where shutdown is safe without start and
// idempotent, and start/shutdown with its defaults where they are complete.
import { describe, expect, it } from 'vitest';
import type { Component, Factory } from '../src/component/component.js';
import { nopConsumer } from '../src/component/component.js';
import { Issues } from '../src/config/schema.js';
import { factories } from '../src/components.js';
import type { Signal } from '../src/pdata/model.js';
import { nopLogger } from '../src/service/logger.js';
import { SelfTelemetry } from '../src/service/telemetry.js';
import { testHost } from './helpers/sieve.js';

function create(f: Factory, cfg: unknown, signal: Signal): Component[] {
  const settings = { id: f.type, kind: f.kind, logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'conformance', now: Date.now };
  switch (f.kind) {
    case 'receiver':
      return [f.create(settings, cfg, { [signal]: nopConsumer })];
    case 'processor':
      return [f.create(settings, cfg, signal, nopConsumer)];
    case 'exporter':
      return [f.create(settings, cfg, signal)];
    case 'connector':
      return f.routes.filter(([from]) => from === signal).map(([from, to]) => f.create(settings, cfg, from, to, nopConsumer));
    case 'extension':
      return [f.create(settings, cfg)];
  }
}

describe('component conformance', () => {
  it('type names are unique per kind and lower_snake_case', () => {
    const seen = new Set<string>();
    for (const f of factories) {
      expect(f.type).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(seen.has(`${f.kind}:${f.type}`)).toBe(false);
      seen.add(`${f.kind}:${f.type}`);
    }
  });

  for (const f of factories) {
    describe(`${f.kind} ${f.type}`, () => {
      it('rejects an unknown key with its path', () => {
        const issues = new Issues();
        f.schema.parse({ no_such_key_anywhere: 1 }, [`${f.kind}s`, f.type], issues);
        expect(issues.errors.map((i) => i.path.join('::'))).toContain(`${f.kind}s::${f.type}::no_such_key_anywhere`);
      });

      it('supports at least one signal', () => {
        expect(Object.keys(f.signals).length).toBeGreaterThan(0);
      });

      const issues = new Issues();
      const cfg = f.schema.parse(undefined, [f.type], issues);
      if (!issues.hasErrors()) f.validate?.(cfg, [f.type], issues);
      const complete = !issues.hasErrors();
      const signal = Object.keys(f.signals)[0] as Signal;

      it('shutdown is safe without start and idempotent', async () => {
        if (!complete) {
          // Defaults that need user input (an endpoint, a path, a key) must say so with a path.
          expect(issues.errors.every((i) => i.path[0] === f.type && i.message.length > 0)).toBe(true);
          return;
        }
        for (const c of create(f, cfg, signal)) {
          await c.shutdown();
          await c.shutdown();
        }
      });

      // Receivers and extensions listen on fixed default ports; their lifecycle is covered by their own tests.
      if (complete && (f.kind === 'processor' || f.kind === 'exporter' || f.kind === 'connector')) {
        it('starts with its defaults and shuts down twice', async () => {
          for (const c of create(f, cfg, signal)) {
            await c.start(testHost());
            await c.shutdown();
            await c.shutdown();
          }
        });
      }
    });
  }
});
