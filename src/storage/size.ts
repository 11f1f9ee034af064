/** Sizes in options ("10G", "512m", "1048576"): binary units, as lvm2 and podman read them. */
import { HoodError } from "../errors.ts";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
};

export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(text.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new HoodError(
      `${what}: bad size ${JSON.stringify(text)}: want a number with an optional k, m, g or t`,
      "USAGE",
    );
  }
  const n = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new HoodError(`${what}: bad size ${JSON.stringify(text)}: out of range`, "USAGE");
  }
  return n;
}
