/**
 * The executor from a long-lived Node process: spawn-to-exit of /bin/true in new user, mount,
 * pid, net, uts and ipc namespaces through `Launch` (clone3 + the setup program), against
 * `unshare(1)` doing the same from the same process with child_process. This is the cost a
 * program embedding hood pays per sandbox, without Node's start.
 *
 *   node --import tsx bench/spawn.ts [--runs N]
 */
import { spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { parseArgs } from "node:util";
import { CLONE } from "../src/linux/namespaces.ts";
import { addon } from "../src/native/addon.ts";
import { Launch } from "../src/runtime/launch.ts";
import { step } from "../src/setup/program.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "50" } } });
const RUNS = Number(values.runs);
const FLAGS =
  CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWUTS | CLONE.NEWIPC;
const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
const devnull = openSync("/dev/null", "r+");

async function hoodOnce(): Promise<number> {
  const started = performance.now();
  const launch = await Launch.start({
    program: {
      cloneFlags: FLAGS,
      steps: [step("exec", { candidates: ["/bin/true"], argv: ["true"], envp: [] })],
      idmap: { uid: map, gid: map, when: "clone" },
      becomeRoot: true,
      forks: false,
      passFds: [],
    },
    stdio: [devnull, devnull, devnull],
  });
  await launch.run(null);
  launch.detach();
  const st = await addon().pidfdWait(launch.processPidfd);
  closeSync(launch.processPidfd);
  if (st.code !== 0) throw new Error(`hood: /bin/true exited ${st.code ?? `by ${st.signal}`}`);
  return performance.now() - started;
}

function unshareOnce(): number {
  const started = performance.now();
  const r = spawnSync(
    "unshare",
    [
      "--user",
      "--map-root-user",
      "--mount",
      "--pid",
      "--fork",
      "--net",
      "--uts",
      "--ipc",
      "/bin/true",
    ],
    { stdio: "ignore" },
  );
  if (r.status !== 0) throw new Error(`unshare exited ${r.status}`);
  return performance.now() - started;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

await hoodOnce();
unshareOnce();
const hood: number[] = [];
const unshare: number[] = [];
for (let i = 0; i < RUNS; i++) {
  hood.push(await hoodOnce());
  unshare.push(unshareOnce());
}
const h = median(hood);
const u = median(unshare);
console.log(`runs: ${RUNS} interleaved, spawn to exit status of /bin/true in 6 new namespaces`);
console.log(`hood Launch (in process): median ${h.toFixed(2)} ms`);
console.log(`unshare via child_process: median ${u.toFixed(2)} ms`);
console.log(`hood/unshare: ${(h / u).toFixed(2)}`);
