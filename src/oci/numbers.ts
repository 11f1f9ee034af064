/**
 * JSON numbers are doubles: an int64 or uint64 near its limit arrives rounded (2^64 - 1 parses
 * as 2^64, 2^63 - 1 as 2^63). The validator accepts those rounded limits; these helpers turn
 * a validated number into the exact 64-bit value the kernel is given.
 */

const UINT64_MAX = 2n ** 64n - 1n;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** A validated uint64 as a bigint; 2^64 (what 18446744073709551615 parses to) is all ones. */
export function toUint64(n: number): bigint {
  const v = BigInt(n);
  return v > UINT64_MAX ? UINT64_MAX : v;
}

/** A validated int64 as a bigint; 2^63 (what 9223372036854775807 parses to) is INT64_MAX. */
export function toInt64(n: number): bigint {
  const v = BigInt(n);
  if (v > INT64_MAX) return INT64_MAX;
  return v < INT64_MIN ? INT64_MIN : v;
}

/** The inclusive bounds the validator allows for each integer kind, as doubles. */
export const INTEGER_RANGES = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint16: [0, 2 ** 16 - 1],
  uint32: [0, 2 ** 32 - 1],
  int64: [-(2 ** 63), 2 ** 63],
  uint64: [0, 2 ** 64],
} as const satisfies Record<string, readonly [number, number]>;

export type IntegerKind = keyof typeof INTEGER_RANGES;
