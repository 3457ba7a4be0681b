/*
 * cn_curl.h - libcurl, loaded the first time something needs it.
 *
 * libcurl drags a dozen libraries into the process (GnuTLS, Kerberos, LDAP,
 * SSH, RTMP...) that together hold ~4 MB of resident pages from the moment
 * they are mapped. An idle server never makes an HTTP request, and the
 * project's idle-RSS target is 8 MB, so the binary does not link libcurl:
 * the HTTP check runner, the CLI and the template runner include this
 * header instead of <curl/curl.h>, and their curl_* calls go through a
 * table filled by dlopen("libcurl.so.4") on first use. Failing to load it is an
 * installation error: a message on stderr and exit status 1.
 */
#ifndef CN_CURL_H
#define CN_CURL_H

#include <curl/curl.h>

struct cn_curl_fns {
    CURLcode (*global_init)(long);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    CURLcode (*easy_perform)(CURL *);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    char *(*easy_escape)(CURL *, const char *, int);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    void (*free)(void *);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
    CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_cleanup)(CURLM *);
    const char *(*multi_strerror)(CURLMcode);
    CURLU *(*url)(void);
    CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
    CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
    void (*url_cleanup)(CURLU *);
};

/* The loaded table (loads it on the first call; exits if it cannot). */
const struct cn_curl_fns *cn_curl(void);

#ifndef CN_CURL_IMPL
/* curl.h's type-checking wrappers are macros over the real symbols. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init (cn_curl()->global_init)
#define curl_global_cleanup (cn_curl()->global_cleanup)
#define curl_easy_init (cn_curl()->easy_init)
#define curl_easy_setopt (cn_curl()->easy_setopt)
#define curl_easy_getinfo (cn_curl()->easy_getinfo)
#define curl_easy_perform (cn_curl()->easy_perform)
#define curl_easy_cleanup (cn_curl()->easy_cleanup)
#define curl_easy_reset (cn_curl()->easy_reset)
#define curl_easy_strerror (cn_curl()->easy_strerror)
#define curl_easy_escape (cn_curl()->easy_escape)
#define curl_slist_append (cn_curl()->slist_append)
#define curl_slist_free_all (cn_curl()->slist_free_all)
#define curl_free (cn_curl()->free)
#define curl_multi_init (cn_curl()->multi_init)
#define curl_multi_setopt (cn_curl()->multi_setopt)
#define curl_multi_add_handle (cn_curl()->multi_add_handle)
#define curl_multi_remove_handle (cn_curl()->multi_remove_handle)
#define curl_multi_socket_action (cn_curl()->multi_socket_action)
#define curl_multi_assign (cn_curl()->multi_assign)
#define curl_multi_info_read (cn_curl()->multi_info_read)
#define curl_multi_cleanup (cn_curl()->multi_cleanup)
#define curl_multi_strerror (cn_curl()->multi_strerror)
#define curl_url (cn_curl()->url)
#define curl_url_set (cn_curl()->url_set)
#define curl_url_get (cn_curl()->url_get)
#define curl_url_cleanup (cn_curl()->url_cleanup)
#endif

#endif
