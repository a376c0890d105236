/* Run-time resolution of the OpenSSL functions tls.c calls (ossl.h says why). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "ossl.h"

struct ossl ossl;

static int loaded;          /* 1: tried; the answer is in `why` */
static const char *why;     /* NULL: every function resolved */
static char message[320];

/* Resolves every name from `from` (a dlopen() handle or RTLD_DEFAULT); the first
 * missing one, or NULL. */
static const char *resolve(void *from) {
#define OSSL_RESOLVE(ret, name, params)                       \
  if ((*(void **)&ossl.name = dlsym(from, #name)) == NULL) return #name;
  OSSL_FUNCTIONS(OSSL_RESOLVE)
#undef OSSL_RESOLVE
  return NULL;
}

static const char *load(void) {
  /* Node: its OpenSSL's symbols are global, and loading a second copy would mix two. */
  if (dlsym(RTLD_DEFAULT, "SSL_CTX_new") != NULL && resolve(RTLD_DEFAULT) == NULL && ossl.OPENSSL_version_major() >= 3) return NULL;
  const char *name = getenv("CONNLAB_LIBSSL");
  if (name == NULL || *name == '\0') name = "libssl.so.3";
  void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    snprintf(message, sizeof message,
             "TLS needs OpenSSL 3 (%s), which this host does not have: install it (Debian/Ubuntu: apt-get install libssl3), "
             "or run TLS in Node workers (--worker-runtime node); plain TCP runs without it",
             name);
    return message;
  }
  const char *missing = resolve(lib); /* dlsym on libssl also finds libcrypto's, its dependency */
  if (missing != NULL || ossl.OPENSSL_version_major() < 3) {
    snprintf(message, sizeof message, "%s is not OpenSSL 3 (no %s): install libssl3, or run TLS in Node workers (--worker-runtime node)", name,
             missing ? missing : "version 3");
    dlclose(lib);
    return message;
  }
  return NULL; /* kept loaded for the life of the process */
}

const char *ossl_load(void) {
  if (!loaded) {
    why = load();
    loaded = 1;
  }
  return why;
}
