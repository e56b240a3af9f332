export interface MediaType {
  /** type/subtype, lower-cased, without parameters. */
  readonly essence: string;
  /** charset parameter, lower-cased and unquoted, when given. */
  readonly charset: string | undefined;
}

// The cloudevents SDK compares content-type strings exactly, so
// "application/cloudevents+json;charset=utf-8" (no space) falls through to binary mode
// there. Reducing every variant to its essence first is what makes them equivalent.
export function parseMediaType(header: string | undefined): MediaType | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const [essence = '', ...params] = header.split(';');
  let charset: string | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    if (param.slice(0, eq).trim().toLowerCase() === 'charset') {
      charset = param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
    }
  }
  return { essence: essence.trim().toLowerCase(), charset };
}

export function isJsonMediaType(essence: string): boolean {
  return essence === 'application/json' || essence.endsWith('+json');
}

export function isUtf8(charset: string | undefined): boolean {
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}
