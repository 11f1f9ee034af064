/**
 * JSON.parse loses integers above 2^53; seccomp argument values are uint64. This reader
 * keeps every integer that does not fit a double exactly as a bigint.
 */

const MARK = "\ue000hood-bigint:";

/** JSON.parse, but integers beyond Number.MAX_SAFE_INTEGER come back as bigints. */
export function parseProfileJson(text: string): unknown {
  // Quote big integer literals outside strings, then turn them back into bigints.
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|-?\d{16,}(?![.eE\d])/g, (tok) => {
    if (tok.startsWith('"')) return tok;
    return Number.isSafeInteger(Number(tok)) ? tok : `"${MARK}${tok}"`;
  });
  return JSON.parse(marked, (_key, value) =>
    typeof value === "string" && value.startsWith(MARK) ? BigInt(value.slice(MARK.length)) : value,
  );
}
