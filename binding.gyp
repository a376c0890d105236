{
  "targets": [
    {
      "target_name": "connlab_holder",
      "sources": [
        "native/binding.c",
        "native/listener.c",
        "native/loop.c",
        "native/conn.c",
        "native/proto/frames.c",
        "native/proto/registry.c",
        "native/proto/out.c",
        "native/stats.c",
        "native/clock.c",
        "native/tls.c",
        "native/tls13.c",
        "native/ossl.c",
        "native/proto/client.c",
        "native/proto/http.c",
        "native/proto/ws.c",
        "native/proto/mqtt.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-pthread"],
      "cflags!": ["-Wno-unused-parameter"],
      "ldflags": ["-pthread"],
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags": ["-O2"]
        }
      }
    },
    {
      "target_name": "connlab_test",
      "product_dir": "<(PRODUCT_DIR)/test",
      "sources": [
        "native/test-binding.c",
        "native/proto/http.c",
        "native/proto/ws.c",
        "native/proto/mqtt.c",
        "native/proto/out.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra"],
      "cflags!": ["-Wno-unused-parameter"]
    },
    {
      "target_name": "connlab-worker",
      "type": "executable",
      "sources": [
        "native/worker/main.c",
        "native/worker/start.c",
        "native/worker/reply.c",
        "native/worker/ipc.c",
        "native/worker/json.c",
        "native/worker/base64.c",
        "native/worker/ramp.c",
        "native/worker/report.c",
        "native/worker/hdr.c",
        "native/listener.c",
        "native/loop.c",
        "native/conn.c",
        "native/proto/frames.c",
        "native/proto/registry.c",
        "native/proto/out.c",
        "native/stats.c",
        "native/clock.c",
        "native/tls.c",
        "native/tls13.c",
        "native/ossl.c",
        "native/proto/client.c",
        "native/proto/http.c",
        "native/proto/ws.c",
        "native/proto/mqtt.c"
      ],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-pthread"],
      "cflags!": ["-Wno-unused-parameter"],
      "ldflags": ["-pthread"],
      "libraries": ["-ldl"],
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags": ["-O2"]
        }
      }
    }
  ]
}
