{
  "targets": [
    {
      "target_name": "sieve_native",
      "sources": ["native/signing.cc"],
      "cflags_cc": ["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
