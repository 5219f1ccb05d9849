/* kfleet-client's answers by version: the header wins over the body, each
 * version counted once per answer in order of first answer, the summary line
 * the quickstart prints. */
#include "ops/client/client_tally.h"

#include "tests/lib/kf_test.h"

#include <stdlib.h>
#include <string.h>

static kf_bytes b(const char *s)
{
    return (kf_bytes){(const uint8_t *)s, strlen(s)};
}

/* client_tally_print into a string (free()). */
static char *printed(const struct client_tally *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    KT_ASSERT(f);
    client_tally_print(t, f);
    KT_ASSERT_INT_EQ(fclose(f), 0);
    return buf;
}

static void test_counts(void)
{
    struct client_tally t = {0};
    char *s = printed(&t);
    KT_ASSERT_STR_EQ(s, "answered by no version\n");
    free(s);
    for (int i = 0; i < 3; i++)
        client_tally_add(&t, b("v1"));
    for (int i = 0; i < 5; i++)
        client_tally_add(&t, b("v2"));
    client_tally_add(&t, b("v1"));
    client_tally_add(&t, b(""));
    client_tally_add(&t, b("v10")); /* a prefix of another name is another name */
    KT_ASSERT_INT_EQ(t.n, 4);
    s = printed(&t);
    KT_ASSERT_STR_EQ(s, "answered by v1: 4, by v2: 5, by (none): 1, by v10: 1\n");
    free(s);
}

static void test_header_wins(void)
{
    kf_bytes h = b("v2");
    KT_ASSERT_INT_EQ(client_tally_version(&h, b("v1")).len, 2);
    KT_ASSERT(!memcmp(client_tally_version(&h, b("v1")).ptr, "v2", 2));
    KT_ASSERT(!memcmp(client_tally_version(NULL, b("v1")).ptr, "v1", 2));
    kf_bytes empty = b("");
    KT_ASSERT_INT_EQ(client_tally_version(&empty, b("v1")).len, 0);
}

static void test_limits(void)
{
    struct client_tally t = {0};
    char name[16];
    for (int i = 0; i < CLIENT_TALLY_MAX + 2; i++) {
        snprintf(name, sizeof(name), "v%d", i);
        client_tally_add(&t, b(name));
    }
    char long_name[CLIENT_TALLY_NAME_CAP + 1];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    client_tally_add(&t, b(long_name));
    long_name[CLIENT_TALLY_NAME_CAP - 1] = '\0'; /* 128 bytes: still a name */
    client_tally_add(&t, b(long_name));
    KT_ASSERT_INT_EQ(t.n, CLIENT_TALLY_MAX);
    KT_ASSERT_INT_EQ(t.other, 3); /* v16, v17 and the 128-byte name */
    KT_ASSERT_INT_EQ(t.unprintable, 1);
    char *s = printed(&t);
    KT_ASSERT(strstr(s, "by v15: 1, by other versions: 3, by over-long versions: 1\n"));
    free(s);
}

int main(void)
{
    KT_RUN(test_counts);
    KT_RUN(test_header_wins);
    KT_RUN(test_limits);
    return 0;
}
