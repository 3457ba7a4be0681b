/*
 * cn_curl.c - dlopen libcurl on first use (why: cn_curl.h).
 */
#define CN_CURL_IMPL
#include "lib/cn_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static struct cn_curl_fns fns;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *need(void *h, const char *name)
{
    void *f = dlsym(h, name);
    if (!f) {
        fprintf(stderr, "cairn: libcurl.so.4 has no %s: %s\n", name, dlerror());
        exit(1);
    }
    return f;
}

/* Object and function pointers share a representation on every platform
 * cairn builds for (POSIX requires it of dlsym). */
#define LOAD(field, name) *(void **)&fns.field = need(h, name)

static void load(void)
{
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr,
                "cairn: HTTP checks, the CLI and templates need libcurl (Debian package "
                "libcurl4), which could not be loaded: %s\n",
                dlerror());
        exit(1);
    }
    LOAD(global_init, "curl_global_init");
    LOAD(global_cleanup, "curl_global_cleanup");
    LOAD(easy_init, "curl_easy_init");
    LOAD(easy_setopt, "curl_easy_setopt");
    LOAD(easy_getinfo, "curl_easy_getinfo");
    LOAD(easy_perform, "curl_easy_perform");
    LOAD(easy_cleanup, "curl_easy_cleanup");
    LOAD(easy_reset, "curl_easy_reset");
    LOAD(easy_strerror, "curl_easy_strerror");
    LOAD(easy_escape, "curl_easy_escape");
    LOAD(slist_append, "curl_slist_append");
    LOAD(slist_free_all, "curl_slist_free_all");
    LOAD(free, "curl_free");
    LOAD(multi_init, "curl_multi_init");
    LOAD(multi_setopt, "curl_multi_setopt");
    LOAD(multi_add_handle, "curl_multi_add_handle");
    LOAD(multi_remove_handle, "curl_multi_remove_handle");
    LOAD(multi_socket_action, "curl_multi_socket_action");
    LOAD(multi_assign, "curl_multi_assign");
    LOAD(multi_info_read, "curl_multi_info_read");
    LOAD(multi_cleanup, "curl_multi_cleanup");
    LOAD(multi_strerror, "curl_multi_strerror");
    LOAD(url, "curl_url");
    LOAD(url_set, "curl_url_set");
    LOAD(url_get, "curl_url_get");
    LOAD(url_cleanup, "curl_url_cleanup");
}

const struct cn_curl_fns *cn_curl(void)
{
    pthread_once(&once, load);
    return &fns;
}
