/** A comparable snapshot of a directory tree (for extraction differentials). */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

export function snapshot(root: string, withDirTimes = false): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel), { encoding: "buffer" }).sort(Buffer.compare)) {
      const r = rel === "" ? name.toString("latin1") : `${rel}/${name.toString("latin1")}`;
      const p = join(root, Buffer.from(r, "latin1").toString("latin1"));
      const abs = Buffer.from(join(root, ""), "utf8");
      const full = Buffer.concat([abs, Buffer.from("/"), Buffer.from(r, "latin1")]);
      const st = lstatSync(full, { bigint: true });
      const type = st.isDirectory()
        ? "d"
        : st.isSymbolicLink()
          ? "l"
          : st.isFile()
            ? "f"
            : st.isFIFO()
              ? "p"
              : st.isCharacterDevice()
                ? "c"
                : st.isBlockDevice()
                  ? "b"
                  : "?";
      let extra = "";
      if (type === "f")
        extra = createHash("sha256").update(readFileSync(full)).digest("hex").slice(0, 16);
      if (type === "l") extra = readlinkSync(full, { encoding: "buffer" }).toString("latin1");
      if (type === "c" || type === "b") extra = String(st.rdev);
      const time = type !== "d" || withDirTimes ? String(st.mtimeNs) : "";
      out.push(
        `${r} ${type} ${(st.mode & 0o7777n).toString(8)} ${st.uid}:${st.gid} ${type === "f" ? st.size : ""} ${time} ${extra} nlink=${type === "f" ? st.nlink : ""}`,
      );
      void p;
      if (type === "d") walk(r);
    }
  };
  walk("");
  return out;
}
