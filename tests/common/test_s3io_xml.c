/* s3io's own reading of S3 answers and its URI encoding (common/s3io_xml.c):
 * the SigV4 transport trusts nothing a server sends, so malformed, cut-off
 * and hostile documents must give -EPROTO, never a wrong key or a crash. */
#include "common/s3io_xml.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seen {
    int n;
    char keys[8][S3IO_KEY_MAX + 1];
    uint64_t sizes[8];
    int stop_at;
};

static int on_key(void *opaque, const char *key, uint64_t size)
{
    struct seen *s = opaque;
    if (s->n == s->stop_at)
        return -EINTR;
    if (s->n < 8) {
        snprintf(s->keys[s->n], sizeof(s->keys[s->n]), "%s", key);
        s->sizes[s->n] = size;
    }
    s->n++;
    return 0;
}

static int list(const char *doc, struct seen *s, bool *truncated, char *next, char *why)
{
    memset(s, 0, sizeof(*s));
    s->stop_at = -1;
    return s3io_xml_list(doc, strlen(doc), on_key, s, truncated, next, why, 256);
}

static void test_uri_encode(void)
{
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_INT_EQ(s3io_uri_encode(&b, "models/m 1/a+b=c~d_e.f-g%\xc3\xa9", true), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&b, "", 1), 0);
    KT_ASSERT_STR_EQ((char *)b.ptr, "models/m%201/a%2Bb%3Dc~d_e.f-g%25%C3%A9");
    kf_buf_reset(&b);
    KT_ASSERT_INT_EQ(s3io_uri_encode(&b, "a/b c", false), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&b, "", 1), 0);
    KT_ASSERT_STR_EQ((char *)b.ptr, "a%2Fb%20c");
    kf_buf_fini(&b);
}

static void test_find_and_text(void)
{
    const char *doc = "<R><KeyCount>2</KeyCount><Key/><Key a=\"1\">x&amp;y</Key><Open>";
    size_t pos = 0, n;
    const char *in;
    char out[32];
    /* <KeyCount> is not <Key>; <Key/> is an empty one */
    KT_ASSERT(s3io_xml_find(doc, strlen(doc), &pos, "Key", &in, &n));
    KT_ASSERT_INT_EQ(n, 0);
    KT_ASSERT(s3io_xml_find(doc, strlen(doc), &pos, "Key", &in, &n));
    KT_ASSERT_INT_EQ(s3io_xml_text(in, n, out, sizeof(out)), 0);
    KT_ASSERT_STR_EQ(out, "x&y");
    KT_ASSERT(!s3io_xml_find(doc, strlen(doc), &pos, "Key", &in, &n));
    pos = 0;
    KT_ASSERT(!s3io_xml_find(doc, strlen(doc), &pos, "Open", &in, &n)); /* never closed */

    const char *t = "a&lt;&gt;&quot;&apos;&#65;&#x42;&#xe9;";
    KT_ASSERT_INT_EQ(s3io_xml_text(t, strlen(t), out, sizeof(out)), 0);
    KT_ASSERT_STR_EQ(out, "a<>\"'AB\xc3\xa9");
    const char *bad[] = {"&",        "&am;",       "&#;",           "&#x;", "&#0;",
                         "&#xD800;", "&#x110000;", "&#1234567890;", "a<b",  "&#65"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        KT_ASSERT_MSG(s3io_xml_text(bad[i], strlen(bad[i]), out, sizeof(out)) == -EPROTO, "%s",
                      bad[i]);
    KT_ASSERT_INT_EQ(s3io_xml_text("a\0b", 3, out, sizeof(out)), -EPROTO);
    KT_ASSERT_INT_EQ(s3io_xml_text("abcd", 4, out, 4), -ENAMETOOLONG);
    KT_ASSERT_INT_EQ(s3io_xml_text("abc", 3, out, 4), 0);
}

static void test_error(void)
{
    char code[32], msg[64];
    const char *doc = "<?xml version='1.0'?><Error><Code>SignatureDoesNotMatch</Code>"
                      "<Message>bad &apos;sig&apos;</Message></Error>";
    s3io_xml_error(doc, strlen(doc), code, sizeof(code), msg, sizeof(msg));
    KT_ASSERT_STR_EQ(code, "SignatureDoesNotMatch");
    KT_ASSERT_STR_EQ(msg, "bad 'sig'");
    s3io_xml_error("", 0, code, sizeof(code), msg, sizeof(msg));
    KT_ASSERT_STR_EQ(code, "");
    KT_ASSERT_STR_EQ(msg, "");
    /* an over-long code is dropped, an over-long message kept in part */
    const char *longer = "<Error><Code>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</Code>"
                         "<Message>0123456789</Message></Error>";
    s3io_xml_error(longer, strlen(longer), code, sizeof(code), msg, 6);
    KT_ASSERT_STR_EQ(code, "");
    KT_ASSERT_STR_EQ(msg, "01234");
}

#define HEAD "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3\"><Name>b</Name>"
#define ITEM(k, n) "<Contents><Key>" k "</Key><ETag>\"e\"</ETag><Size>" n "</Size></Contents>"

static void test_list(void)
{
    struct seen s;
    bool tr;
    char next[S3IO_KEY_MAX + 1], why[256];
    KT_ASSERT_INT_EQ(list(HEAD "<IsTruncated>true</IsTruncated><NextMarker>m/b</NextMarker>" ITEM(
                              "m/a&amp;1", "1")
                              ITEM("m/b", "18446744073709551615") "</ListBucketResult>",
                          &s, &tr, next, why),
                     0);
    KT_ASSERT_INT_EQ(s.n, 2);
    KT_ASSERT_STR_EQ(s.keys[0], "m/a&1");
    KT_ASSERT(s.sizes[1] == UINT64_MAX);
    KT_ASSERT(tr);
    KT_ASSERT_STR_EQ(next, "m/b");
    KT_ASSERT_INT_EQ(
        list(HEAD "<IsTruncated>false</IsTruncated></ListBucketResult>", &s, &tr, next, why), 0);
    KT_ASSERT(!tr && s.n == 0 && !next[0]);

    /* the callback stops the walk with its value */
    memset(&s, 0, sizeof(s));
    s.stop_at = 1;
    const char *two = HEAD ITEM("a", "1") ITEM("b", "2") "</ListBucketResult>";
    KT_ASSERT_INT_EQ(s3io_xml_list(two, strlen(two), on_key, &s, &tr, next, why, sizeof(why)),
                     -EINTR);

    const char *bad[] = {
        "<html/>",
        HEAD ITEM("a", "1"), /* cut off: no end tag */
        HEAD "<IsTruncated>maybe</IsTruncated></ListBucketResult>",
        HEAD ITEM("a", "-1") "</ListBucketResult>",
        HEAD ITEM("a", "18446744073709551616") "</ListBucketResult>",
        HEAD ITEM("a", "1 ") "</ListBucketResult>",
        HEAD ITEM("a", "") "</ListBucketResult>",
        HEAD "<Contents><Size>1</Size></Contents></ListBucketResult>",
        HEAD ITEM("", "1") "</ListBucketResult>",
        HEAD ITEM("a&bogus;", "1") "</ListBucketResult>",
        HEAD "<NextMarker>&#0;</NextMarker></ListBucketResult>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int err = list(bad[i], &s, &tr, next, why);
        KT_ASSERT_MSG(err == -EPROTO && why[0], "case %zu: %d", i, err);
    }

    /* a key over S3's 1024 bytes */
    size_t big = 2048;
    char *doc = malloc(big + 256);
    KT_ASSERT(doc);
    int n = snprintf(doc, 256, HEAD "<Contents><Key>");
    memset(doc + n, 'k', S3IO_KEY_MAX + 1);
    snprintf(doc + n + S3IO_KEY_MAX + 1, 200, "</Key><Size>1</Size></Contents></ListBucketResult>");
    KT_ASSERT_INT_EQ(list(doc, &s, &tr, next, why), -EPROTO);
    free(doc);
}

/* Every prefix of a valid answer, and every one-byte corruption of it: a
 * clean result or -EPROTO, and never a key that was not in the document. */
static void test_cut_and_corrupt(void)
{
    const char *doc =
        HEAD "<IsTruncated>true</IsTruncated><NextMarker>z</NextMarker>" ITEM("a", "10")
            ITEM("z", "20") "</ListBucketResult>";
    size_t len = strlen(doc);
    char *copy = malloc(len);
    KT_ASSERT(copy);
    char next[S3IO_KEY_MAX + 1], why[256];
    bool tr;
    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s = {.stop_at = -1};
        memcpy(copy, doc, cut); /* exactly cut bytes: no terminator to lean on */
        int err = s3io_xml_list(copy, cut, on_key, &s, &tr, next, why, sizeof(why));
        KT_ASSERT_MSG(err == 0 || err == -EPROTO, "cut %zu: %d", cut, err);
        KT_ASSERT_MSG(err || cut == len, "cut %zu parsed", cut);
    }
    const char junk[] = {'<', '>', '&', '/', '\0', '"', 'x', '9'};
    for (size_t i = 0; i < len; i++) {
        for (size_t j = 0; j < sizeof(junk); j++) {
            struct seen s = {.stop_at = -1};
            memcpy(copy, doc, len);
            copy[i] = junk[j];
            int err = s3io_xml_list(copy, len, on_key, &s, &tr, next, why, sizeof(why));
            KT_ASSERT_MSG(err == 0 || err == -EPROTO, "byte %zu = %d: %d", i, junk[j], err);
            for (int k = 0; k < s.n && k < 8; k++)
                KT_ASSERT(strlen(s.keys[k]) <= S3IO_KEY_MAX);
        }
    }
    free(copy);
}

int main(void)
{
    KT_RUN(test_uri_encode);
    KT_RUN(test_find_and_text);
    KT_RUN(test_error);
    KT_RUN(test_list);
    KT_RUN(test_cut_and_corrupt);
    return 0;
}
