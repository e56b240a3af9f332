// Durations come from user-edited annotations, so parsing is strict: one accepted
// grammar, and a message that says what it is rather than echoing a parser error.

export type DurationResult =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly message: string };

export const MAX_DURATION_MS = 24 * 60 * 60 * 1000;

// Long inputs are refused before any regex work; no valid duration comes close.
const MAX_TEXT_LENGTH = 64;

const ACCEPTED =
  'expected "0" or a whole number of h, m, s and/or ms in that order, ' +
  'e.g. "500ms", "30s", "2m", "1h", "1m30s", at most 24h';

// Units must appear largest first and at most once, so "30s1m" or "1m1m" are
// rejected instead of silently summed.
const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['h', 60 * 60 * 1000],
  ['m', 60 * 1000],
  ['s', 1000],
  ['ms', 1],
];

// "ms" is listed before "m" so "5ms" is not read as "5m" followed by "s".
const TOKEN_SOURCE = '(\\d+)(ms|h|m|s)';

export function parseDuration(text: string): DurationResult {
  if (text.length === 0) return { ok: false, message: `empty duration; ${ACCEPTED}` };
  if (text.length > MAX_TEXT_LENGTH) {
    return { ok: false, message: `duration longer than ${MAX_TEXT_LENGTH} characters; ${ACCEPTED}` };
  }
  if (text.startsWith('-')) {
    return { ok: false, message: `negative duration "${text}"; ${ACCEPTED}` };
  }
  if (text === '0') return { ok: true, value: 0 };

  // A fresh sticky regex per call keeps lastIndex state out of module scope.
  const token = new RegExp(TOKEN_SOURCE, 'y');
  let total = 0;
  let nextUnit = 0;
  while (token.lastIndex < text.length) {
    const match = token.exec(text);
    if (match === null) return { ok: false, message: `invalid duration "${text}"; ${ACCEPTED}` };
    const [, digits = '', unit = ''] = match;
    const index = UNITS.findIndex(([name]) => name === unit);
    const factor = UNITS[index]?.[1];
    if (index < nextUnit || factor === undefined) {
      return { ok: false, message: `invalid duration "${text}": units out of order or repeated; ${ACCEPTED}` };
    }
    nextUnit = index + 1;
    total += Number(digits) * factor;
  }

  if (!Number.isFinite(total) || total > MAX_DURATION_MS) {
    return { ok: false, message: `duration "${text}" exceeds 24h; ${ACCEPTED}` };
  }
  return { ok: true, value: total };
}
