// An ESLint rule that keeps the layers apart by where an import *resolves*, not by how
// its path is spelled: `./../handler.js` and `../handler.js` are the same file to it.
// Package imports (express, @kubernetes/client-node, node:*) are the job of
// no-restricted-imports in eslint.config.js; this rule judges imports of our own files.
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_DIRS, SHARED_CORE_FILES } from './cores.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

const posix = (p) => p.split(sep).join('/');
const under = (path, dir) => path === dir || path.startsWith(`${dir}/`);

// The balancer's part of the pure cores (scripts/cores.mjs).
const BALANCER_CORE = SHARED_CORE_FILES.filter((file) => under(file, 'shared/balancer'));
// What the balancer's core may use besides itself: its error classes (no I/O in them).
const BALANCER_PURE = [...BALANCER_CORE, 'shared/balancer/errors.ts'];
// Shared modules that talk to the network, the API, the process or stdout.
const IMPURE_SHARED_DIRS = ['shared/k8s', 'shared/http'];
const IMPURE_SHARED_FILES = ['shared/runtime.ts', 'shared/log.ts', 'shared/audit/emit.ts'];

/** The function a path belongs to (functions/<name>/...), or undefined. */
function functionOf(path) {
  return /^functions\/([^/]+)\//.exec(path)?.[1];
}

export function isCore(path) {
  return CORE_DIRS.some((dir) => under(path, dir)) || SHARED_CORE_FILES.includes(path);
}

// The .ts file a compiled-path import names: sources import './x.js' for './x.ts'.
const source = (path) => path.replace(/\.js$/, '.ts');

/** Why `from` may not import `to` (repository-relative paths), or undefined. */
export function layerViolation(from, to) {
  const target = source(to);
  for (const dir of ['plane', 'test', 'cli', 'bench']) {
    if ((under(from, 'shared') || under(from, 'functions')) && under(target, dir)) return `${dir}/ is not part of the functions; shared/ and functions/ must not import it`;
  }
  if (under(from, 'shared') && under(target, 'functions')) return 'shared/ holds what several parts use and must not depend on a function; move what both need into shared/';
  const fromFn = functionOf(from);
  const toFn = functionOf(target);
  if (fromFn !== undefined && toFn !== undefined && fromFn !== toFn) return `functions/${fromFn} must not import functions/${toFn}: functions share code only through shared/`;
  if (!isCore(from)) return undefined;
  if (IMPURE_SHARED_DIRS.some((dir) => under(target, dir)) || IMPURE_SHARED_FILES.includes(target)) return `a pure core must not import ${target}, which does I/O; take what it gives as an argument`;
  if (fromFn !== undefined && toFn === fromFn && !isCore(target)) return `a pure core must not import its function's shell (${target})`;
  if (BALANCER_CORE.includes(from) && under(target, 'shared/balancer') && !BALANCER_PURE.includes(target)) return `the balancer's pure model must not import its shell (${target})`;
  return undefined;
}

const layers = {
  meta: {
    type: 'problem',
    docs: { description: 'Keep cores pure and layers one-way, judged by the resolved path of each import' },
    schema: [],
    messages: { layer: '{{why}}' },
  },
  create(context) {
    const from = posix(relative(root, context.filename));
    const check = (node) => {
      const spec = node?.type === 'Literal' && typeof node.value === 'string' ? node.value : undefined;
      if (spec === undefined || !spec.startsWith('.')) return;
      const to = posix(relative(root, resolve(dirname(context.filename), spec)));
      const why = layerViolation(from, to);
      if (why) context.report({ node, messageId: 'layer', data: { why } });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};

export default { meta: { name: 'baton-layers' }, rules: { layers } };
