// hood's option parser against node:util parseArgs (strict, no positionals), which it replaces.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { parse, parseOptions } from "../../../src/cli/args.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

const OPTIONS: Options = {
  bundle: { type: "string", short: "b" },
  "pid-file": { type: "string" },
  detach: { type: "boolean", short: "d" },
  tty: { type: "boolean", short: "t" },
  env: { type: "string", short: "e", multiple: true },
  cap: { type: "boolean", multiple: true, short: "c" },
  format: { type: "string", short: "f", default: "table" },
  quiet: { type: "boolean", short: "q", default: false },
  tags: { type: "string", multiple: true, default: ["x"] },
};

function theirs(words: string[]): unknown {
  try {
    const { values } = parseArgs({ args: words, options: OPTIONS, strict: true });
    return { values: { ...values } };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function ours(words: string[]): unknown {
  try {
    const { values } = parseOptions(words, OPTIONS, (message) => {
      throw new Error(message);
    });
    return { values: { ...values } };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const CASES: string[][] = [
  [],
  ["--bundle", "/b"],
  ["--bundle=/b"],
  ["--bundle="],
  ["-b", "/b"],
  ["-b/b"],
  ["-d"],
  ["-dt"],
  ["-td", "-b", "x"],
  ["-db", "x"],
  ["-dbx"],
  ["--detach", "--tty"],
  ["--detach=true"],
  ["--nope"],
  ["--nope=1"],
  ["-z"],
  ["-dz"],
  ["--bundle"],
  ["-b"],
  ["--pid-file"],
  ["-e", "A=1", "--env", "B=2", "-eC=3", "--env=D=4"],
  ["-c", "-c", "--cap"],
  ["--format", "json", "-q"],
  ["-fjson"],
  ["--tags", "a", "--tags=b"],
  ["--bundle", "/a", "--bundle", "/b"],
  ["--detach", "--detach"],
  ["--__proto__"],
  ["--toString"],
  ["--constructor=x"],
  ["--bundle", "-d"],
  ["-b", "-d"],
  ["--bundle", "--tty"],
  ["--bundle", "-"],
  ["--pid-file", "-x"],
  ["--bundle=-d"],
  ["-b-d"],
];

describe("hood's option parser", () => {
  for (const words of CASES) {
    it(`reads ${JSON.stringify(words)} as parseArgs does`, () => {
      assert.deepEqual(ours(words), theirs(words));
    });
  }

  it("stops at the first positional word and at --, as runc does", () => {
    const r = parse(["-d", "c1", "sh", "-c", "x"], OPTIONS, "exec");
    assert.equal(r.values.detach, true);
    assert.deepEqual(r.positionals, ["c1", "sh", "-c", "x"]);
    assert.deepEqual(parse(["--", "-x"], OPTIONS, "exec").positionals, ["-x"]);
    assert.deepEqual(parse(["-", "x"], OPTIONS, "exec").positionals, ["-", "x"]);
  });

  it("ends a short option's attached value where the word ends", () => {
    // -b/x/b ends in b, the short of a string option: its value is "/x/b", not the next word.
    const r = parse(["-b/x/b", "c1"], OPTIONS, "run");
    assert.equal(r.values.bundle, "/x/b");
    assert.deepEqual(r.positionals, ["c1"]);
  });

  it("says which verb an unknown option was given to", () => {
    assert.throws(() => parse(["--nope", "c1"], OPTIONS, "start"), {
      code: "USAGE",
      message: "start: Unknown option '--nope'",
    });
  });
});
