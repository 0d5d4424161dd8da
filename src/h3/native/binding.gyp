{
  "targets": [
    {
      "target_name": "switchyard_h3",
      "sources": ["quic_h3.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-std=gnu11"],
      "libraries": ["-lngtcp2", "-lngtcp2_crypto_gnutls", "-lnghttp3", "-lgnutls"]
    }
  ]
}
