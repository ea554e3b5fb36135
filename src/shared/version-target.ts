/**
 * Which version `updateKeyVersion` moves an account to, checked before any call to Azure, and
 * said in words for summaries and messages. Pure.
 */
import { ValidationError, validateKeyVersion } from './names';
import type { VersionTarget } from './runbooks';

/** A version target as runbooks take it. */
export function validateVersionTarget(target: unknown, field = 'target'): VersionTarget {
  const t = target as { kind?: unknown; version?: unknown } | undefined;
  if (t?.kind === 'latest' || t?.kind === 'previous' || t?.kind === 'versionless') return { kind: t.kind };
  if (t?.kind === 'named')
    return { kind: 'named', version: validateKeyVersion(t.version, `${field}.version`) };
  throw new ValidationError(`${field}.kind`, 'latest, previous, named or versionless', t?.kind);
}

/** The target in words: "the latest version", "version 1a2b3c4d…", "versionless". */
export function describeVersionTarget(target: VersionTarget): string {
  switch (target.kind) {
    case 'latest':
      return 'the latest version';
    case 'previous':
      return 'the previous version';
    case 'named':
      return `version ${target.version.slice(0, 8)}…`;
    case 'versionless':
      return 'versionless';
  }
}
