{
  "targets": [
    {
      "target_name": "hood_native",
      "sources": [
        "native/addon/addon.c",
        "native/addon/process.c",
        "native/addon/poll.c",
        "native/addon/fdio.c",
        "native/addon/fsat.c",
        "native/addon/ptrace.c",
        "native/addon/bpf.c",
        "native/addon/crc64.c",
        "native/addon/tarhdr.c",
        "native/addon/tarbatch.c",
        "native/addon/mountapi.c",
        "native/addon/btrfs.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    },
    {
      "target_name": "hood-executor",
      "type": "executable",
      "sources": [
        "native/executor/executor.c",
        "native/executor/program.c",
        "native/executor/inroot.c",
        "native/executor/fs.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "ldflags": ["-static-pie"],
      "defines": ["_GNU_SOURCE"]
    }
  ]
}
