// Schemas of the kinds of value the config knobs take (knobs.ts): integers in a range,
// comma lists, DNS names, ServiceAccount subjects, SinkBinding's CloudEvent overrides.
import { z } from 'zod';

// A comma-separated list; blanks around entries and empty entries are dropped.
export const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== ''),
);

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// The subject the API server puts in a ServiceAccount token: namespace (a DNS label) and
// name (a DNS subdomain).
export const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):([a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?)$/;

export const isDnsSubdomain = (value: string): boolean =>
  value.length <= 253 && value.split('.').every((label) => DNS_LABEL.test(label));

export const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

// Names the CloudEvents spec reserves; an "extension" by these names would silently
// overwrite a core attribute of every audit event.
const RESERVED_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'datacontenttype',
  'dataschema',
  'data',
  'data_base64',
]);

export const ceOverrides = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not JSON: ${err instanceof Error ? err.message : String(err)}` });
      return z.NEVER;
    }
  })
  .pipe(
    z.object({
      extensions: z
        .record(
          z
            .string()
            .regex(/^[a-z0-9]+$/, 'extension names are lowercase letters and digits')
            .refine((name) => !RESERVED_ATTRIBUTES.has(name), 'extension name is a reserved CloudEvents attribute'),
          z.string(),
        )
        .optional(),
    }),
  )
  .transform((overrides) => overrides.extensions ?? {});
