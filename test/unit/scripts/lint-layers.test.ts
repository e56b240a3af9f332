// The lint's architecture rules, run from the project's own eslint.config.js on code that
// breaks them and on code that does not: a loosened pattern or a dropped rule fails here.
// Type-aware rules are switched off (they need the whole program); the rules checked
// here judge imports and names only.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { repoRoot } from '../../../plane/paths.js';

const root = repoRoot();
const loaded = (await import(pathToFileURL(join(root, 'eslint.config.js')).href)) as { default: Linter.Config[] };
const config: Linter.Config[] = [...loaded.default, { files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }];
const linter = new Linter({ cwd: root });

/** The rule ids reported for `code` placed at `path` (repository-relative). */
function reported(path: string, code: string): string[] {
  return linter.verify(code, config, { filename: join(root, path) }).map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

const CORE = 'functions/failover/core/probe.ts';

describe('lint: pure cores', () => {
  it('accepts plain code, type-only client imports and the address checks of node:net', () => {
    const code = [
      "import type { V1Pod } from '@kubernetes/client-node';",
      "import { isIP } from 'node:net';",
      "import { keysFor } from '../../../shared/keys.js';",
      "import type { PodView } from './model.js';",
      'export const f = (p: V1Pod, v: PodView, now: number): unknown => [p, v, isIP(""), keysFor("x"), new Date(now)];',
    ].join('\n');
    assert.deepEqual(reported(CORE, code), []);
  });

  const refused: Array<[string, string, string]> = [
    ['the API client module', "import '../../../shared/k8s/client.js';", 'baton/layers'],
    ['the API client package', "import { KubeConfig } from '@kubernetes/client-node';\nexport const k = KubeConfig;", '@typescript-eslint/no-restricted-imports'],
    ['the function shell, however spelled', "import './../handler.js';", 'baton/layers'],
    ['the logger', "import '../../../shared/log.js';", 'baton/layers'],
    ['the audit emitter', "import '../../../shared/audit/emit.js';", 'baton/layers'],
    ['express', "import express from 'express';\nexport const e = express;", '@typescript-eslint/no-restricted-imports'],
    ['a socket from node:net', "import { connect } from 'node:net';\nexport const c = connect;", '@typescript-eslint/no-restricted-imports'],
    ['the file system', "import { readFileSync } from 'fs';\nexport const r = readFileSync;", '@typescript-eslint/no-restricted-imports'],
    ['the clock', 'export const t = (): number => Date.now();', 'no-restricted-properties'],
    ['a timer', 'export const t = (f: () => void): unknown => setTimeout(f, 1);', 'no-restricted-globals'],
    ['the process', 'export const e = (): unknown => process.env;', 'no-restricted-globals'],
    ['loading code at run time', "export const m = (): Promise<unknown> => import('./model.js');", 'no-restricted-syntax'],
  ];
  for (const [what, code, rule] of refused) {
    it(`refuses ${what} (${rule})`, () => {
      assert.deepEqual(reported(CORE, code), [rule]);
    });
  }

  it('holds the balancer model to the same rules', () => {
    assert.deepEqual(reported('shared/balancer/hint.ts', "import './balancer.js';"), ['baton/layers']);
    assert.deepEqual(reported('shared/balancer/hint.ts', "import './errors.js';"), []);
  });
});

describe('lint: layers', () => {
  it('keeps shared/ from importing a function', () => {
    assert.deepEqual(reported('shared/config/probe.ts', "import '../../functions/routes/core/policy.js';"), ['baton/layers']);
  });
  it('keeps one function from importing another, but not resync from failover', () => {
    assert.deepEqual(reported('functions/routes/probe.ts', "import '../failover/core/model.js';"), ['baton/layers']);
    assert.deepEqual(reported('functions/failover/resync/probe.ts', "import '../core/model.js';"), []);
  });
  it('keeps functions/ and shared/ from importing the plane or the tests', () => {
    assert.deepEqual(reported('functions/probe.ts', "import '../plane/paths.js';"), ['baton/layers']);
    assert.deepEqual(reported('shared/probe.ts', "import '../test/unit/shared/audit/samples.js';"), ['baton/layers']);
  });
});
