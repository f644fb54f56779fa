{
  "targets": [
    {
      "target_name": "kcap",
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "native/addon/addon.cc",
            "native/addon/bpf_sys.cc",
            "native/addon/elf_object.cc",
            "native/addon/priority_guard.cc",
            "native/addon/ring_reader.cc"
          ],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
          "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
          "cflags_cc!": ["-fno-exceptions"]
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
