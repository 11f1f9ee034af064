/**
 * SemVer 2.0.0 as `ociVersion` uses it: "1.0.2-dev", "1.2.0", "1.1.0-rc.3+build".
 */

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: string;
}

/** The grammar of semver.org, with numeric parts that have no leading zeros. */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** The parts of a SemVer 2.0.0 string, or undefined when it is not one. */
export function parseSemVer(text: string): SemVer | undefined {
  const m = SEMVER.exec(text);
  if (!m) return undefined;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch, prerelease: m[4] ?? "" };
}

/** The oldest and newest runtime-spec versions hood reads. */
export const OCI_VERSION_MIN = "1.0.0";
export const OCI_VERSION_MAX = "1.3.0";
