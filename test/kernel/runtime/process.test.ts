import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { needsRoot, Sandbox } from "../../helpers/hood.ts";

describe("the container's process and filesystem", { skip: needsRoot }, () => {
  const box = new Sandbox();
  after(() => box.cleanup());

  it("mounts proc, the /dev tmpfs, devpts, shm, mqueue and sysfs", () => {
    const r = box.run(["cat", "/proc/self/mounts"]);
    assert.equal(r.status, 0, r.stderr);
    const mounts = r.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    const at = (dest: string) => mounts.find((m) => m[1] === dest);
    assert.equal(at("/proc")?.[2], "proc");
    assert.equal(at("/dev")?.[2], "tmpfs");
    assert.equal(at("/dev/pts")?.[2], "devpts");
    assert.equal(at("/dev/shm")?.[2], "tmpfs");
    assert.equal(at("/dev/mqueue")?.[2], "mqueue");
    assert.equal(at("/sys")?.[2], "sysfs");
    assert.match(at("/sys")?.[3] ?? "", /^ro,/);
    // The host's mounts are gone after pivot_root.
    assert.equal(mounts.filter((m) => m[1] === "/").length, 1);
  });

  it("creates the standard devices and links", () => {
    const r = box.run([
      "sh",
      "-c",
      "for d in null zero full random urandom tty; do stat -c '%n %t %T %a' /dev/$d; done; readlink /dev/fd; readlink /dev/stdin; readlink /dev/ptmx; echo x > /dev/null && head -c 4 /dev/zero | wc -c",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        "/dev/null 1 3 666",
        "/dev/zero 1 5 666",
        "/dev/full 1 7 666",
        "/dev/random 1 8 666",
        "/dev/urandom 1 9 666",
        "/dev/tty 5 0 666",
        "/proc/self/fd",
        "/proc/self/fd/0",
        "pts/ptmx",
        "4",
        "",
      ].join("\n"),
    );
  });

  it("creates linux.devices", () => {
    const r = box.run(["stat", "-c", "%n %F %t %T %a %u %g", "/dev/mydev"], (s) => {
      s.linux!.devices = [
        { path: "/dev/mydev", type: "c", major: 1, minor: 7, fileMode: 0o600, uid: 7, gid: 8 },
      ];
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "/dev/mydev character special file 1 7 600 7 8");
  });

  it("masks paths and makes paths read-only", () => {
    const r = box.run([
      "sh",
      "-c",
      "wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname && echo writable || echo readonly",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["0", "0", "readonly"]);
  });

  it("makes the rootfs read-only with root.readonly", () => {
    const r = box.run(
      [
        "sh",
        "-c",
        "touch /x 2>/dev/null && echo writable || echo readonly; touch /tmp/y && echo tmp-ok",
      ],
      (s) => {
        s.root!.readonly = true;
        s.mounts!.push({
          destination: "/tmp",
          type: "tmpfs",
          source: "tmpfs",
          options: ["nosuid"],
        });
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["readonly", "tmp-ok"]);
  });

  it("applies user, groups, umask, cwd, env and rlimits", () => {
    const r = box.run(
      ["sh", "-c", "id -u; id -g; id -G; umask; pwd; echo $FOO; ulimit -n; ulimit -Hn"],
      (s) => {
        s.process!.user = { uid: 1000, gid: 1001, additionalGids: [5, 7], umask: 0o027 };
        s.process!.cwd = "/tmp";
        s.process!.env!.push("FOO=bar");
        s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 321, hard: 654 }];
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "1000",
      "1001",
      "1001 5 7",
      "0027",
      "/tmp",
      "bar",
      "321",
      "654",
    ]);
  });

  it("sets hostname, domainname, sysctl and oomScoreAdj", () => {
    const r = box.run(
      [
        "sh",
        "-c",
        "hostname; cat /proc/sys/kernel/domainname; cat /proc/sys/net/ipv4/ip_forward; cat /proc/self/oom_score_adj",
      ],
      (s) => {
        s.hostname = "h1";
        s.domainname = "d1";
        s.linux!.sysctl = { "net.ipv4.ip_forward": "1" };
        s.process!.oomScoreAdj = 123;
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["h1", "d1", "1", "123"]);
  });

  it("binds a host directory, read-only when asked", () => {
    const r = box.run(
      ["sh", "-c", "ls /data; touch /data/new 2>/dev/null && echo writable || echo readonly"],
      (s) => {
        s.mounts!.push({
          destination: "/data",
          type: "bind",
          source: "/etc/apt",
          options: ["rbind", "ro"],
        });
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /sources\.list/);
    assert.match(r.stdout, /readonly/);
  });

  it("starts with default signal dispositions and an empty mask", () => {
    // grep itself, not through a shell: busybox sh ignores SIGQUIT for its children.
    const r = box.run(["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /SigBlk:\s+0000000000000000/);
    // Node ignores SIGPIPE and SIGXFSZ: neither may leak into the container.
    assert.match(r.stdout, /SigIgn:\s+0000000000000000/);
  });

  it("works with --no-pivot", () => {
    const bundle = box.bundle({
      args: ["sh", "-c", "ls / | wc -l; cat /proc/self/mountinfo | wc -l"],
    });
    const r = box.hood(["run", "--no-pivot", "--bundle", bundle, box.id()]);
    assert.equal(r.status, 0, r.stderr);
  });
});
