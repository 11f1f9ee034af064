import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { needsRoot, Sandbox } from "../../helpers/hood.ts";

/** A console-socket server in Python: receives the pty master with SCM_RIGHTS, prints what it reads. */
const RECEIVER = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 4096, 1)
print("name", msg.decode(), flush=True)
master = fds[0]
out = b""
while True:
    try:
        b = os.read(master, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
sys.stdout.write("output " + out.decode().replace("\\r\\n", "|") + "\\n")
`;

describe("terminal and console socket", { skip: needsRoot }, () => {
  const box = new Sandbox();
  after(() => box.cleanup());

  it("sends the pty master over the console socket and runs the process on the pty", async () => {
    const sock = join(box.dir, "console.sock");
    const py = spawn("python3", ["-c", RECEIVER, sock], { stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    py.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const end = Date.now() + 5000;
    while (!existsSync(sock) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const bundle = box.bundle({
      args: ["sh", "-c", "tty; stty size; test -t 0 && echo stdin-is-a-tty"],
      edit: (s) => {
        s.process!.terminal = true;
        s.process!.consoleSize = { height: 30, width: 100 };
      },
    });
    const r = box.hood(["run", "--console-socket", sock, "--bundle", bundle, box.id()]);
    assert.equal(r.status, 0, r.stderr);
    await new Promise((resolve) => py.on("close", resolve));
    assert.match(output, /name \/dev\/ptmx/);
    assert.match(output, /output \/dev\/pts\/0\|30 100\|stdin-is-a-tty/);
  });

  it("refuses a terminal without a console socket when detaching", () => {
    const bundle = box.bundle({
      args: ["true"],
      edit: (s) => {
        s.process!.terminal = true;
      },
    });
    const r = box.hood(["create", "--bundle", bundle, box.id()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /console socket/);
  });
});
