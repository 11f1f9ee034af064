import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatReports, mountReports } from "../../../src/cli/mounts.ts";
import { parseMountinfo } from "../../../src/linux/mountinfo.ts";

const HOST = parseMountinfo(
  [
    "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw",
    "2 1 0:40 / /srv/vol rw shared:7 - tmpfs tmpfs rw",
    "3 1 0:41 / /srv/other rw shared:8 - tmpfs tmpfs rw",
  ].join("\n"),
);

const CONTAINER = parseMountinfo(
  [
    "10 9 8:1 /b/rootfs / ro shared:20 - ext4 /dev/sda1 rw",
    "11 10 0:50 / /proc rw - proc proc rw",
    "12 10 0:40 /data /data rw shared:7 - tmpfs tmpfs rw",
    "13 10 0:40 /in /in rw shared:21 master:7 - tmpfs tmpfs rw",
    "14 13 0:41 / /in/x rw master:22 propagate_from:8 - tmpfs tmpfs rw",
    "15 10 0:42 / /u rw unbindable - tmpfs tmpfs rw",
  ].join("\n"),
);

describe("hood mounts reports", () => {
  const [root] = mountReports(CONTAINER, HOST);
  const byPoint = (mp: string) => {
    const walk = (r: NonNullable<typeof root>): (typeof root)[] => [
      r,
      ...r.children.flatMap((c) => walk(c)),
    ];
    return walk(root!).find((r) => r?.mountPoint === mp);
  };

  it("nests mounts under their parents", () => {
    assert.equal(root?.mountPoint, "/");
    assert.deepEqual(
      root?.children.map((c) => c.mountPoint),
      ["/proc", "/data", "/in", "/u"],
    );
    assert.deepEqual(
      byPoint("/in")?.children.map((c) => c.mountPoint),
      ["/in/x"],
    );
  });

  it("finds the host mounts of each peer group and says what propagates", () => {
    assert.deepEqual(byPoint("/data")?.host, {
      peers: ["/srv/vol"],
      masters: [],
      summary: "both ways with host /srv/vol",
    });
    assert.deepEqual(byPoint("/in")?.host.masters, ["/srv/vol"]);
    assert.equal(byPoint("/in")?.host.summary, "receives from host /srv/vol");
    // propagate_from names the dominating group when the master itself is not visible.
    assert.deepEqual(byPoint("/in/x")?.host.masters, ["/srv/other"]);
    assert.equal(byPoint("/")?.host.summary, "no host mount in its groups");
    assert.equal(byPoint("/proc")?.host.summary, "nothing propagates");
    assert.equal(byPoint("/u")?.host.summary, "cannot be bind-mounted; nothing propagates");
    assert.equal(byPoint("/in")?.type, "shared,slave");
    assert.equal(byPoint("/in")?.propagation, "shared:21 master:7");
  });

  it("prints one aligned line per mount under a header", () => {
    const lines = formatReports(mountReports(CONTAINER, HOST)).trimEnd().split("\n");
    assert.equal(lines.length, 7);
    assert.match(lines[0]!, /^MOUNT POINT\s+FSTYPE\s+SOURCE\s+PROPAGATION\s+HOST$/);
    assert.match(lines[1]!, /^\/\s+ext4\s+\/dev\/sda1\[\/b\/rootfs\]\s+shared:20\s+no host mount/);
    assert.match(
      lines[3]!,
      /^\|-- \/data\s+tmpfs\s+tmpfs\[\/data\]\s+shared:7\s+both ways with host \/srv\/vol$/,
    );
    assert.match(lines[5]!, /^\| {3}`-- \/in\/x\s/);
    assert.match(lines[6]!, /^`-- \/u\s+tmpfs\s+tmpfs\s+unbindable\s/);
    const column = lines[0]!.indexOf("FSTYPE");
    for (const l of lines.slice(1)) assert.equal(l[column - 1], " ");
  });
});
