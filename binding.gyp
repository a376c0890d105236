{
  "targets": [
    {
      "target_name": "connlab_holder",
      "sources": [
        "native/binding.c",
        "native/loop.c",
        "native/conn.c",
        "native/frame.c",
        "native/samples.c",
        "native/tls.c",
        "native/proto/client.c",
        "native/proto/http.c",
        "native/proto/ws.c",
        "native/proto/mqtt.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE", "OPENSSL_API_COMPAT=30000"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-pthread"],
      "cflags!": ["-Wno-unused-parameter"],
      "ldflags": ["-pthread"],
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags": ["-O2"]
        }
      }
    }
  ]
}
