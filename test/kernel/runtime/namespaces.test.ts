import assert from "node:assert/strict";
import { readlinkSync } from "node:fs";
import { after, describe, it } from "node:test";
import { needsRoot, Sandbox } from "../../helpers/hood.ts";

const KINDS = ["pid", "net", "ipc", "uts", "mnt", "user", "cgroup", "time"];

function hostNs(kind: string): string {
  return readlinkSync(`/proc/self/ns/${kind}`);
}

/** Prints "kind ns-link" per line from inside the container. */
const PRINT_NS = KINDS.map((k) => `echo ${k} $(readlink /proc/self/ns/${k})`).join("; ");

function parse(stdout: string): Map<string, string> {
  return new Map(
    stdout
      .split("\n")
      .filter((l) => l.includes(":["))
      .map((l) => l.split(" ") as [string, string]),
  );
}

describe("namespaces", { skip: needsRoot }, () => {
  const box = new Sandbox();
  after(() => box.cleanup());

  it("creates each of the eight namespace types new", () => {
    const r = box.run(["sh", "-c", PRINT_NS], (s) => {
      s.linux!.namespaces = [
        { type: "pid" },
        { type: "network" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
        { type: "user" },
        { type: "cgroup" },
        { type: "time" },
      ];
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    assert.equal(r.status, 0, r.stderr);
    const seen = parse(r.stdout);
    for (const kind of KINDS) {
      assert.ok(seen.has(kind), `${kind} printed: ${r.stdout}`);
      assert.notEqual(seen.get(kind), hostNs(kind), `${kind} is new`);
    }
  });

  it("shares the host's namespaces the spec does not list", () => {
    const r = box.run(["sh", "-c", PRINT_NS], (s) => {
      s.linux!.namespaces = [{ type: "mount" }, { type: "pid" }];
      delete s.hostname;
    });
    assert.equal(r.status, 0, r.stderr);
    const seen = parse(r.stdout);
    for (const kind of ["net", "ipc", "uts", "user", "cgroup", "time"]) {
      assert.equal(seen.get(kind), hostNs(kind), `${kind} is the host's`);
    }
    assert.notEqual(seen.get("mnt"), hostNs("mnt"));
  });

  it("joins namespaces given by path", async () => {
    // A first container holds a network and a uts namespace; a second joins them by path.
    const holder = box.bundle({ args: ["sleep", "30"] });
    const id = box.id("holder");
    assert.equal(box.hood(["run", "--detach", "--bundle", holder, id]).status, 0);
    const pid = JSON.parse(box.hood(["state", id]).stdout).pid as number;
    const r = box.run(["sh", "-c", PRINT_NS], (s) => {
      s.linux!.namespaces = [
        { type: "pid" },
        { type: "mount" },
        { type: "network", path: `/proc/${pid}/ns/net` },
        { type: "uts", path: `/proc/${pid}/ns/uts` },
      ];
      delete s.hostname;
    });
    assert.equal(r.status, 0, r.stderr);
    const seen = parse(r.stdout);
    assert.equal(seen.get("net"), readlinkSync(`/proc/${pid}/ns/net`));
    assert.equal(seen.get("uts"), readlinkSync(`/proc/${pid}/ns/uts`));
    assert.notEqual(seen.get("pid"), readlinkSync(`/proc/${pid}/ns/pid`));
    box.hood(["delete", "--force", id]);
  });

  it("runs the process as pid 1 of its pid namespace, with its own hostname", () => {
    const r = box.run(["sh", "-c", "echo $$; hostname; ps -o pid | wc -l"], (s) => {
      s.hostname = "inside";
    });
    assert.equal(r.status, 0, r.stderr);
    const [pid, hostname, lines] = r.stdout.trim().split("\n");
    assert.equal(pid, "1");
    assert.equal(hostname, "inside");
    // the header, sh and ps
    assert.ok(Number(lines) <= 4, `ps saw ${lines} lines`);
  });

  it("maps ids in a user namespace", () => {
    const r = box.run(
      [
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; touch /dev/shm/f; stat -c %u /dev/shm/f",
      ],
      (s) => {
        s.linux!.namespaces!.push({ type: "user" });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/).join(" "));
    assert.deepEqual(lines, ["0 100000 65536", "0 200000 65536", "0", "0", "0"]);
  });

  it("offsets the clocks of a new time namespace", () => {
    const r = box.run(["cat", "/proc/uptime"], (s) => {
      s.linux!.namespaces!.push({ type: "time" });
      s.linux!.timeOffsets = { boottime: { secs: 10 * 86400, nanosecs: 0 } };
    });
    assert.equal(r.status, 0, r.stderr);
    const inside = Number(r.stdout.split(" ")[0]);
    assert.ok(inside > 10 * 86400, `uptime inside is ${inside}`);
  });
});
