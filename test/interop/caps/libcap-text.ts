/**
 * Readers for the two text forms libcap's tools print, so that their output can be compared
 * with hood's masks: cap_to_text ("=ep cap_chown,cap_kill+i cap_net_raw-ep", see
 * cap_from_text(3)) and cap_iab_to_text ("^cap_chown,!cap_net_raw,%cap_kill").
 * Written from libcap's cap_text.c grammar; only what getpcaps prints needs to be read.
 */
import { encodeCaps, fullMask } from "../../../src/linux/capabilities.ts";

export interface EpiMasks {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

function listMask(list: string, all: bigint): bigint {
  let mask = 0n;
  for (const item of list.split(",")) {
    mask |= item === "all" ? all : encodeCaps([item]);
  }
  return mask;
}

function flagsOf(text: string, clause: string): { e: boolean; i: boolean; p: boolean } {
  if (!/^[eip]*$/.test(text)) throw new Error(`bad flags in ${JSON.stringify(clause)}`);
  return { e: text.includes("e"), i: text.includes("i"), p: text.includes("p") };
}

/** The E, P and I masks a cap_to_text string describes; "all" means caps 0..last. */
export function parseCapText(text: string, last: number): EpiMasks {
  const all = fullMask(last);
  const sets: EpiMasks = { effective: 0n, permitted: 0n, inheritable: 0n };
  const apply = (list: bigint, flags: { e: boolean; i: boolean; p: boolean }, raise: boolean) => {
    const change = (mask: bigint, on: boolean) =>
      on ? (raise ? mask | list : mask & ~list) : mask;
    sets.effective = change(sets.effective, flags.e);
    sets.permitted = change(sets.permitted, flags.p);
    sets.inheritable = change(sets.inheritable, flags.i);
  };
  for (const clause of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^([a-z0-9_,]*)([=+-].*)$/.exec(clause);
    if (!m) throw new Error(`bad clause ${JSON.stringify(clause)}`);
    const list = m[1] === "" ? all : listMask(m[1]!, all);
    // Actions: "=flags", then any number of "+flags" / "-flags".
    const actions = m[2]!.match(/[=+-][eip]*/g) ?? [];
    if (actions.join("") !== m[2]) throw new Error(`bad actions in ${JSON.stringify(clause)}`);
    for (const action of actions) {
      const flags = flagsOf(action.slice(1), clause);
      if (action[0] === "=") {
        apply(list, { e: true, i: true, p: true }, false);
        apply(list, flags, true);
      } else {
        apply(list, flags, action[0] === "+");
      }
    }
  }
  return sets;
}

export interface IabMasks {
  inheritable: bigint;
  ambient: bigint;
  bounding: bigint;
}

/** The I, A and bounding masks a cap_iab_to_text string describes ("!" = not in bounding). */
export function parseIabText(text: string, last: number): IabMasks {
  let inheritable = 0n;
  let ambient = 0n;
  let dropped = 0n;
  for (const token of text.split(",").filter(Boolean)) {
    const m = /^(!?)([%^]?)([a-z0-9_]+)$/.exec(token);
    if (!m) throw new Error(`bad IAB token ${JSON.stringify(token)}`);
    const bit = encodeCaps([m[3]!]);
    if (m[1] === "!") dropped |= bit;
    if (m[2] === "^") ambient |= bit;
    // A bare name is inheritable; after "!" only "%" or "^" says so.
    if (m[2] !== "" || m[1] === "") inheritable |= bit;
  }
  return { inheritable, ambient, bounding: fullMask(last) & ~dropped };
}

/**
 * Splits `getpcaps --iab PID` output: `PID: "cap text" [iab text]`. getpcaps leaves the quoted
 * part out when the process has no effective, permitted or inheritable capability ("=").
 */
export function parseGetpcapsIab(line: string): { pid: number; text: string; iab: string } {
  const m = /^(\d+): (?:"([^"]*)" )?\[([^\]]*)\]$/.exec(line.trim());
  if (!m) throw new Error(`unexpected getpcaps output ${JSON.stringify(line)}`);
  return { pid: Number(m[1]), text: m[2] ?? "=", iab: m[3]! };
}
