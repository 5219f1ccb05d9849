/* SHA-256 against NIST vectors, Ed25519 against RFC 8032 §7.1, hex/base64,
 * key files and the trusted-keys ring. */
#include "common/crypto.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void unhex(const char *hex, uint8_t *out, size_t out_len)
{
    KT_ASSERT_MSG(crypto_hex_decode(hex, strlen(hex), out, out_len) == 0, "bad hex in a vector");
}

static void sha256_hex_of(const void *data, size_t len, char hex[65])
{
    KT_ASSERT_INT_EQ(crypto_sha256_hex(data, len, hex), 0);
}

/* FIPS 180-2 / NIST CAVS examples. */
static void test_sha256_nist(void)
{
    char hex[65];
    sha256_hex_of("", 0, hex);
    KT_ASSERT_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex_of("abc", 3, hex);
    KT_ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex_of(m448, strlen(m448), hex);
    KT_ASSERT_STR_EQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    sha256_hex_of(m896, strlen(m896), hex);
    KT_ASSERT_STR_EQ(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a', streamed in uneven pieces, twice (final restarts the hash). */
static void test_sha256_million_a_streamed(void)
{
    static const size_t pieces[] = {1, 63, 64, 65, 1000, 4096, 7};
    char buf[4096];
    memset(buf, 'a', sizeof(buf));
    crypto_sha256 *h = crypto_sha256_new();
    KT_ASSERT(h);
    for (int round = 0; round < 2; round++) {
        size_t left = 1000000, i = 0;
        while (left) {
            size_t n = pieces[i++ % (sizeof(pieces) / sizeof(pieces[0]))];
            if (n > left)
                n = left;
            KT_ASSERT_INT_EQ(crypto_sha256_update(h, buf, n), 0);
            left -= n;
        }
        uint8_t d[CRYPTO_SHA256_LEN];
        char hex[65];
        KT_ASSERT_INT_EQ(crypto_sha256_final(h, d), 0);
        crypto_hex_encode(d, sizeof(d), hex);
        KT_ASSERT_STR_EQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
    /* update(0 bytes) is a no-op, final of nothing is the empty digest */
    KT_ASSERT_INT_EQ(crypto_sha256_update(h, NULL, 0), 0);
    uint8_t d[CRYPTO_SHA256_LEN];
    char hex[65];
    KT_ASSERT_INT_EQ(crypto_sha256_final(h, d), 0);
    crypto_hex_encode(d, sizeof(d), hex);
    KT_ASSERT_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    crypto_sha256_free(h);
    crypto_sha256_free(NULL);
}

struct ed_vector {
    const char *name, *seed, *pub, *msg, *sig;
};

/* RFC 8032 §7.1: TEST 1, 2, 3, 1024 and SHA(abc). */
static const struct ed_vector ed_vectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc"
     "6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST 1024", "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
     "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f7"
     "7"
     "b1e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b2"
     "0"
     "329d658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd"
     "1"
     "77e93a7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5"
     "d"
     "1a36553e06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97"
     "b"
     "928a8bbc103b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d"
     "8"
     "ac70bdcb7ed185ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594"
     "e"
     "1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092c"
     "f"
     "67bf2b13fd65f27088d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc"
     "9"
     "c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c34"
     "1"
     "4a8d0859dc65a46128bab27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2"
     "b"
     "1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead"
     "9"
     "4f3c7ca495e056a9b47acdb751fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58"
     "c"
     "30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6"
     "7"
     "24517b65e614ad6808d6f6ee34dff7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d"
     "7"
     "8ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b5"
     "7"
     "f7f7276cd419c17a3ca8e1b939ae49e488acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc560"
     "0"
     "a32ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f1"
     "7"
     "c0e2cb3797aa2a2f256656168e6c496afc5fb93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff35787"
     "6"
     "e506b50d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d"
     "4"
     "0fd9d03412c091c6315cf4fde7cb68606937380db2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64d"
     "f"
     "ac86aba41c0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0",
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d"
     "9"
     "4b5e8fcd4f681e30a6ac00a9704a188a03"},
    {"SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fee"
     "b"
     "bd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e"
     "0"
     "303dca179c138ac17ad9bef1177331a704"},
};

static void test_ed25519_rfc8032(void)
{
    for (size_t v = 0; v < sizeof(ed_vectors) / sizeof(ed_vectors[0]); v++) {
        const struct ed_vector *t = &ed_vectors[v];
        printf("#   %s\n", t->name);
        uint8_t seed[32], pub[32], sig[64], got[64];
        size_t mlen = strlen(t->msg) / 2;
        uint8_t *msg = malloc(mlen ? mlen : 1);
        KT_ASSERT(msg);
        unhex(t->seed, seed, 32);
        unhex(t->pub, pub, 32);
        unhex(t->sig, sig, 64);
        unhex(t->msg, msg, mlen);
        if (!strcmp(t->name, "TEST 1024"))
            KT_ASSERT_INT_EQ(mlen, 1023);

        struct crypto_ed25519_key key;
        KT_ASSERT_INT_EQ(crypto_ed25519_from_seed(&key, seed), 0);
        KT_ASSERT_MSG(!memcmp(key.pub, pub, 32), "%s: public key differs", t->name);
        KT_ASSERT(key.has_priv);
        KT_ASSERT_INT_EQ(strlen(key.key_id), CRYPTO_KEY_ID_LEN);
        KT_ASSERT_INT_EQ(crypto_ed25519_sign(&key, msg, mlen, got), 0);
        KT_ASSERT_MSG(!memcmp(got, sig, 64), "%s: signature differs", t->name);
        KT_ASSERT_INT_EQ(crypto_ed25519_verify(pub, msg, mlen, sig), 0);

        /* One flipped bit anywhere (signature, message, key) must fail. */
        uint8_t bad[64];
        memcpy(bad, sig, 64);
        bad[v * 7 % 64] ^= 0x01;
        KT_ASSERT_INT_EQ(crypto_ed25519_verify(pub, msg, mlen, bad), -EBADMSG);
        if (mlen) {
            msg[mlen / 2] ^= 0x80;
            KT_ASSERT_INT_EQ(crypto_ed25519_verify(pub, msg, mlen, sig), -EBADMSG);
            msg[mlen / 2] ^= 0x80;
        }
        uint8_t badpub[32];
        memcpy(badpub, pub, 32);
        badpub[0] ^= 0x02;
        KT_ASSERT(crypto_ed25519_verify(badpub, msg, mlen, sig) != 0);
        free(msg);
    }
}

static void test_ed25519_keygen_sign_verify(void)
{
    struct crypto_ed25519_key a, b;
    KT_ASSERT_INT_EQ(crypto_ed25519_keygen(&a), 0);
    KT_ASSERT_INT_EQ(crypto_ed25519_keygen(&b), 0);
    KT_ASSERT(memcmp(a.pub, b.pub, 32) != 0);
    KT_ASSERT(strcmp(a.key_id, b.key_id) != 0);
    const char *m = "kfleet manifest bytes";
    uint8_t sig[64];
    KT_ASSERT_INT_EQ(crypto_ed25519_sign(&a, m, strlen(m), sig), 0);
    KT_ASSERT_INT_EQ(crypto_ed25519_verify(a.pub, m, strlen(m), sig), 0);
    KT_ASSERT_INT_EQ(crypto_ed25519_verify(b.pub, m, strlen(m), sig), -EBADMSG);
    /* a public-only key cannot sign */
    struct crypto_ed25519_key pubonly = a;
    pubonly.has_priv = false;
    KT_ASSERT_INT_EQ(crypto_ed25519_sign(&pubonly, m, strlen(m), sig), -EINVAL);
    /* key_id = first 8 bytes of SHA-256(pub), hex */
    uint8_t d[32];
    char id[17];
    KT_ASSERT_INT_EQ(crypto_sha256_digest(a.pub, 32, d), 0);
    crypto_hex_encode(d, 8, id);
    KT_ASSERT_STR_EQ(a.key_id, id);
}

static void test_hex(void)
{
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
    char hex[13];
    crypto_hex_encode(in, sizeof(in), hex);
    KT_ASSERT_STR_EQ(hex, "00017f80feff");
    uint8_t out[6];
    KT_ASSERT_INT_EQ(crypto_hex_decode(hex, 12, out, 6), 0);
    KT_ASSERT(!memcmp(in, out, 6));
    KT_ASSERT_INT_EQ(crypto_hex_decode("00017F80FEFF", 12, out, 6), 0); /* upper case accepted */
    KT_ASSERT(!memcmp(in, out, 6));
    KT_ASSERT_INT_EQ(crypto_hex_decode("0g", 2, out, 1), -EPROTO);
    KT_ASSERT_INT_EQ(crypto_hex_decode("abc", 3, out, 1), -EPROTO);  /* odd length */
    KT_ASSERT_INT_EQ(crypto_hex_decode("abcd", 4, out, 1), -EPROTO); /* wrong length */
    KT_ASSERT_INT_EQ(crypto_hex_decode(" a", 2, out, 1), -EPROTO);
    crypto_hex_encode(in, 0, hex);
    KT_ASSERT_STR_EQ(hex, "");
}

static void test_base64(void)
{
    /* RFC 4648 §10 */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(plain[i]);
        char out[16];
        KT_ASSERT_INT_EQ(crypto_base64_len(n), strlen(enc[i]));
        crypto_base64_encode((const uint8_t *)plain[i], n, out);
        KT_ASSERT_STR_EQ(out, enc[i]);
        uint8_t dec[16];
        int got = crypto_base64_decode(enc[i], strlen(enc[i]), dec, sizeof(dec));
        KT_ASSERT_INT_EQ(got, n);
        KT_ASSERT(!memcmp(dec, plain[i], n));
    }
    /* every byte value round-trips */
    uint8_t all[256], back[256];
    char text[400];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    crypto_base64_encode(all, 256, text);
    KT_ASSERT_INT_EQ(crypto_base64_decode(text, strlen(text), back, sizeof(back)), 256);
    KT_ASSERT(!memcmp(all, back, 256));

    uint8_t d[16];
    KT_ASSERT_INT_EQ(crypto_base64_decode("Zg=", 3, d, sizeof(d)),
                     -EPROTO); /* not a multiple of 4 */
    KT_ASSERT_INT_EQ(crypto_base64_decode("Z===", 4, d, sizeof(d)), -EPROTO); /* pad too early */
    KT_ASSERT_INT_EQ(crypto_base64_decode("Zg=a", 4, d, sizeof(d)), -EPROTO); /* data after pad */
    KT_ASSERT_INT_EQ(crypto_base64_decode("Zg==Zg==", 8, d, sizeof(d)), -EPROTO); /* pad mid-text */
    KT_ASSERT_INT_EQ(crypto_base64_decode("Zm9*", 4, d, sizeof(d)), -EPROTO);
    KT_ASSERT_INT_EQ(crypto_base64_decode("Zm9v", 4, d, 2), -ENOSPC);
}

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/kfleet-crypto-XXXXXX", base && *base ? base : "/tmp");
    KT_ASSERT(mkdtemp(tmpdir));
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    KT_ASSERT(f);
    fputs(text, f);
    KT_ASSERT(fclose(f) == 0);
}

static void test_key_files(void)
{
    char base[512], path[600], err[512];
    snprintf(base, sizeof(base), "%s/publisher", tmpdir);
    struct crypto_ed25519_key key, loaded;
    KT_ASSERT_INT_EQ(crypto_ed25519_keygen(&key), 0);
    KT_ASSERT_INT_EQ(crypto_ed25519_save(&key, base, err, sizeof(err)), 0);

    struct stat st;
    snprintf(path, sizeof(path), "%s.key", base);
    KT_ASSERT(stat(path, &st) == 0);
    KT_ASSERT_MSG((st.st_mode & 0777) == 0600, "private key mode is %o", st.st_mode & 0777);
    KT_ASSERT_INT_EQ(crypto_ed25519_load(&loaded, path, err, sizeof(err)), 0);
    KT_ASSERT(loaded.has_priv);
    KT_ASSERT(!memcmp(loaded.priv, key.priv, 32));
    KT_ASSERT(!memcmp(loaded.pub, key.pub, 32));
    KT_ASSERT_STR_EQ(loaded.key_id, key.key_id);

    snprintf(path, sizeof(path), "%s.pub", base);
    KT_ASSERT_INT_EQ(crypto_ed25519_load(&loaded, path, err, sizeof(err)), 0);
    KT_ASSERT(!loaded.has_priv);
    KT_ASSERT(!memcmp(loaded.pub, key.pub, 32));
    KT_ASSERT_STR_EQ(loaded.key_id, key.key_id);

    /* never overwrite a key */
    KT_ASSERT_INT_EQ(crypto_ed25519_save(&key, base, err, sizeof(err)), -EEXIST);
    snprintf(path, sizeof(path), "%s/missing.pub", tmpdir);
    KT_ASSERT_INT_EQ(crypto_ed25519_load(&loaded, path, err, sizeof(err)), -ENOENT);

    /* bad contents */
    char b64[64];
    crypto_base64_encode(key.pub, 32, b64);
    char wrong_id[256];
    snprintf(wrong_id, sizeof(wrong_id), "kfleet-ed25519-public 0000000000000000 %s\n", b64);
    const char *const bad_lines[] = {
        wrong_id,                           /* key_id does not match the key */
        "kfleet-rsa-public 0 AAAA\n",       /* wrong tag */
        "kfleet-ed25519-public abc Zm9v\n", /* not 32 bytes */
        "kfleet-ed25519-public\n",          /* too few fields */
        "\n",                               /* no key at all */
    };
    for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
        snprintf(path, sizeof(path), "%s/bad%zu.pub", tmpdir, i);
        write_text(path, bad_lines[i]);
        err[0] = '\0';
        KT_ASSERT_INT_EQ(crypto_ed25519_load(&loaded, path, err, sizeof(err)), -EPROTO);
        KT_ASSERT_MSG(strstr(err, path), "error text names the file: %s", err);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s.key", base);
    unlink(path);
    snprintf(path, sizeof(path), "%s.pub", base);
    unlink(path);
}

static void test_keyring(void)
{
    struct crypto_ed25519_key a, b;
    KT_ASSERT_INT_EQ(crypto_ed25519_keygen(&a), 0);
    KT_ASSERT_INT_EQ(crypto_ed25519_keygen(&b), 0);
    char ba[64], bb[64], text[512], path[512], err[512];
    crypto_base64_encode(a.pub, 32, ba);
    crypto_base64_encode(b.pub, 32, bb);
    snprintf(text, sizeof(text),
             "# trusted publishers\n\nkfleet-ed25519-public %s %s\n   \n"
             "  kfleet-ed25519-public %s %s\r\nkfleet-ed25519-public %s %s\n",
             a.key_id, ba, b.key_id, bb, a.key_id, ba);
    snprintf(path, sizeof(path), "%s/trusted.keys", tmpdir);
    write_text(path, text);

    crypto_keyring *kr = crypto_keyring_new();
    KT_ASSERT(kr);
    KT_ASSERT_INT_EQ(crypto_keyring_load(kr, path, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(crypto_keyring_count(kr), 2); /* the duplicate counts once */
    const struct crypto_ed25519_key *f = crypto_keyring_find(kr, b.key_id, strlen(b.key_id));
    KT_ASSERT(f && !memcmp(f->pub, b.pub, 32) && !f->has_priv);
    KT_ASSERT(!crypto_keyring_find(kr, "0123456789abcdef", 16));
    KT_ASSERT(!crypto_keyring_find(kr, a.key_id, 4)); /* a prefix is not a match */
    /* a private key added to the ring keeps only its public half */
    struct crypto_ed25519_key c;
    KT_ASSERT_INT_EQ(crypto_ed25519_keygen(&c), 0);
    KT_ASSERT_INT_EQ(crypto_keyring_add(kr, &c), 0);
    f = crypto_keyring_find(kr, c.key_id, strlen(c.key_id));
    KT_ASSERT(f && !f->has_priv);
    static const uint8_t zero[32];
    KT_ASSERT(!memcmp(f->priv, zero, 32));
    crypto_keyring_free(kr);

    /* a bad line: error names file and line */
    snprintf(text, sizeof(text), "# ok\nkfleet-ed25519-public %s %s\nkfleet-ed25519-public x y\n",
             a.key_id, ba);
    write_text(path, text);
    kr = crypto_keyring_new();
    KT_ASSERT_INT_EQ(crypto_keyring_load(kr, path, err, sizeof(err)), -EPROTO);
    char want[600];
    snprintf(want, sizeof(want), "%s:3:", path);
    KT_ASSERT_MSG(strstr(err, want), "error text '%s' lacks '%s'", err, want);
    crypto_keyring_free(kr);
    crypto_keyring_free(NULL);
    unlink(path);
}

int main(void)
{
    make_tmpdir();
    KT_RUN(test_sha256_nist);
    KT_RUN(test_sha256_million_a_streamed);
    KT_RUN(test_ed25519_rfc8032);
    KT_RUN(test_ed25519_keygen_sign_verify);
    KT_RUN(test_hex);
    KT_RUN(test_base64);
    KT_RUN(test_key_files);
    KT_RUN(test_keyring);
    rmdir(tmpdir);
    return 0;
}
